import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { sqliteStore } from './test-support.ts';

/**
 * Malformed HTTP on a real socket: what Node's parser refuses never reaches the app, what it
 * lets through the app refuses; neither answers 5xx, and the server keeps serving.
 */
const runs = Math.ceil(Number(process.env.LONGRUN_FUZZ_RUNS ?? 3_000) / 5);
const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 2 ** 31);

let store: SessionStore;
let drop: () => Promise<void>;
let api: Api;
let served: ServedApi;
let key: string;

beforeAll(async () => {
  console.log(`raw HTTP fuzz seed: ${seed}, ${runs} requests`);
  ({ store, drop } = await sqliteStore());
  api = createApi({ store, auth: 'keys' });
  served = await serveApi(api, { port: 0 });
  key = (await generateApiKey(store.apiKeys, 'acme', 'raw', 'admin')).key;
});
afterAll(async () => {
  await served.close();
  await drop();
});

/** Sends raw bytes, half-closes, and returns what came back before the server closed (≤ 2 s). */
function exchange(bytes: Uint8Array): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(served.port, '127.0.0.1');
    let reply = '';
    const done = (): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(done, 2_000);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('latin1');
      // One response is enough: the status line and headers are what is checked.
      if (/\r\n\r\n/.test(reply)) done();
    });
    socket.on('error', done);
    socket.on('close', done);
    socket.end(bytes);
  });
}

const enc = (s: string) => Buffer.from(s, 'latin1');

function valid(method: string, path: string, body: string, extra = ''): string {
  return (
    `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body, 'latin1')}\r\n${extra}Connection: close\r\n\r\n${body}`
  );
}

const mutation = fc.oneof(
  // Flip, insert or cut bytes of a valid request.
  fc
    .tuple(
      fc.constantFrom(
        valid('POST', '/v1/sessions', '{"agent":"a","message":"m"}'),
        valid('GET', '/v1/sessions/ses_x/stream', ''),
        valid('POST', '/v1/sessions/ses_x/cancel', '{}'),
      ),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat()),
    )
    .map(([request, flips, cut]) => {
      const bytes = enc(request);
      for (const [at, value] of flips) bytes[at % bytes.length] = value;
      return cut === null ? bytes : bytes.subarray(0, cut % bytes.length);
    }),
  fc.constantFrom(
    enc('GARBAGE\r\n\r\n'),
    enc('GET /v1/health HTTP/9.9\r\n\r\n'),
    enc(`GET /v1/sessions/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${'k'}\r\n\r\n`),
    enc('GET /v1/sessions/%ff%fe%00 HTTP/1.1\r\nHost: x\r\n\r\n'),
    enc(`GET /v1/health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`),
    enc(
      valid('POST', '/v1/sessions', '{"agent":"a"', '').replace(
        /Content-Length: \d+/,
        'Content-Length: 500',
      ),
    ),
    enc(
      'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n',
    ),
    enc(
      'POST /v1/sessions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    ),
    enc('GET /../../../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n'),
    enc('GET http://evil.example/v1/health HTTP/1.1\r\nHost: x\r\n\r\n'),
    enc(valid('POST', '/v1/sessions', `{"agent":"a","message":"\xc3\x28"}`)),
  ),
);

describe('malformed HTTP on a real socket', () => {
  it('never answers 5xx and keeps serving', async () => {
    const statuses = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(mutation, async (bytes) => {
        const reply = await exchange(bytes);
        const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1] ?? 'closed';
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(status.startsWith('5'), reply.slice(0, 300)).toBe(false);
      }),
      { numRuns: runs, seed },
    );
    console.log(`raw HTTP statuses: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(' ')}`);
    const health = await fetch(`${served.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(api.stats().subscribers).toBe(0);
  });
});
