import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { createApi } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { sqliteStore } from './test-support.ts';

/**
 * DNS rebinding against a server without keys (`longrun dev`, `serve --no-auth`): a page of
 * attacker.example re-pointed at 127.0.0.1 sends its own name as Host and Origin. Real HTTP on
 * loopback, with the headers a browser would send.
 */
let store: SessionStore;
let drop: () => Promise<void>;
let served: ServedApi;
let keyed: ServedApi;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  served = await serveApi(createApi({ store, auth: 'none' }), { port: 0 });
  keyed = await serveApi(createApi({ store, auth: 'keys' }), { port: 0 });
});
afterAll(async () => {
  await served.close();
  await keyed.close();
  await drop();
});

interface Reply {
  status: number;
  body: string;
}

/** One request to 127.0.0.1 with exactly these headers (Host included). */
function send(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, method, path, headers, setHost: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const create = JSON.stringify({ agent: 'probe', message: 'created from a foreign origin' });
const json = { 'content-type': 'application/json' };

describe('a server without API keys answers only requests that name it by a loopback name', () => {
  it('refuses a foreign Host or Origin with 403 PERMISSION_DENIED, reading and creating nothing', async () => {
    const p = served.port;
    const foreign: Record<string, string>[] = [
      { host: `attacker.example:${p}` },
      { host: `attacker.example:${p}`, origin: `http://attacker.example:${p}` },
      { host: `127.0.0.1:${p}`, origin: `http://attacker.example:${p}` },
      { host: `127.0.0.1:${p}`, origin: 'null' },
      // A page of another local port is another origin.
      { host: `127.0.0.1:${p}`, origin: `http://127.0.0.1:${p + 1}` },
      { host: `127.0.0.1:${p}`, origin: `http://localhost:${p}` },
      { host: `localhost.attacker.example:${p}` },
      { host: `127.0.0.1.nip.io:${p}` },
    ];
    for (const headers of foreign) {
      const list = await send(p, 'GET', '/v1/sessions?limit=1', headers);
      expect(list.status, JSON.stringify(headers)).toBe(403);
      expect(JSON.parse(list.body)).toMatchObject({ error: { code: 'PERMISSION_DENIED' } });
      const made = await send(p, 'POST', '/v1/sessions', { ...headers, ...json }, create);
      expect(made.status, JSON.stringify(headers)).toBe(403);
      const page = await send(p, 'GET', '/', headers);
      expect(page.status).toBe(403);
    }
    expect(await store.listSessions({ tenantId: 'default', limit: 10 })).toEqual([]);
  });

  it('serves the loopback names, with the port or none, and the same-origin dashboard', async () => {
    const p = served.port;
    const own: Record<string, string>[] = [
      { host: `127.0.0.1:${p}` },
      { host: '127.0.0.1' },
      { host: `localhost:${p}` },
      { host: `LOCALHOST:${p}` },
      { host: `[::1]:${p}` },
      { host: `127.0.0.1:${p}`, origin: `http://127.0.0.1:${p}` },
      { host: `localhost:${p}`, origin: `http://localhost:${p}` },
      // A port forwarded to this one (ssh -L 8080:127.0.0.1:<port>): the browser names the
      // forwarded port, and its dashboard is same-origin there.
      { host: 'localhost:8080' },
      { host: 'localhost:8080', origin: 'http://localhost:8080' },
    ];
    for (const headers of own) {
      const list = await send(p, 'GET', '/v1/sessions?limit=1', headers);
      expect(list.status, JSON.stringify(headers)).toBe(200);
      expect((await send(p, 'GET', '/', headers)).status).toBe(200);
    }
    const made = await send(
      p,
      'POST',
      '/v1/sessions',
      { host: `127.0.0.1:${p}`, origin: `http://127.0.0.1:${p}`, ...json },
      create,
    );
    expect(made.status).toBe(201);
  });

  it('leaves a server with keys to its keys (a key is not sent by a foreign page)', async () => {
    const health = await send(keyed.port, 'GET', '/v1/health', { host: 'anything.example' });
    expect(health.status).toBe(200);
    const list = await send(keyed.port, 'GET', '/v1/sessions', { host: 'anything.example' });
    expect(list.status).toBe(401);
  });
});
