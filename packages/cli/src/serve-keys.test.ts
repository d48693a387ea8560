import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  describeWithServer,
  dropSchema,
  probeTestServer,
  testUrl,
} from '@longrun/store-postgres/testing';
import { background, example, fixture, longrun, waitFor } from './test-fixtures/cli-process.ts';

/** Starts a long-running command and resolves with the URL it prints. */
async function startServer(args: string[], cwd: string) {
  const started = background(args, cwd);
  const url = await waitFor('a printed URL', async () => {
    const printed = /http:\/\/127\.0\.0\.1:\d+/.exec(started.output())?.[0];
    if (printed === undefined && started.child.exitCode !== null)
      throw new Error(`exited without printing a URL:\n${started.output()}`);
    return printed;
  });
  return { ...started, url };
}

describe('longrun serve and keys, as subprocesses', () => {
  it('creates a key that the served API accepts, lists it without its secret, and revokes it', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-serve-'));
    const created = longrun(['keys', 'create', '--tenant', 'acme', '--name', 'ci'], cwd);
    expect(created.status).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^lr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/shown once/);
    const listed = longrun(['keys', 'list', '--json'], cwd);
    const [record] = JSON.parse(listed.stdout) as { id: string; tenantId: string; name: string }[];
    // No --role: operator, which runs agents and decides nothing.
    expect(record).toMatchObject({ tenantId: 'acme', name: 'ci', role: 'operator' });
    const viewer = longrun(['keys', 'create', '--tenant', 'acme', '--role', 'viewer'], cwd);
    expect(viewer.stderr).toMatch(/\(role viewer\)/);
    const viewerKey = viewer.stdout.trim();
    const badRole = longrun(['keys', 'create', '--tenant', 'acme', '--role', 'root'], cwd);
    expect(badRole.status).toBe(2);
    expect(badRole.stderr).toMatch(/--role must be one of admin, approver, operator, viewer/);
    // The secret is everything after `lr_<id>_`: base64url, so it may hold `_` itself.
    const secret = key.slice(`lr_${record!.id}_`.length);
    expect(secret).toHaveLength(43);
    expect(listed.stdout).not.toContain(secret);
    expect(longrun(['keys', 'create'], cwd).status).toBe(2);

    const server = await startServer(['serve', '--port', '0'], cwd);
    try {
      const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
      const made = await fetch(`${server.url}/v1/sessions`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ agent: 'anything', message: 'hello' }),
      });
      expect(made.status).toBe(201);
      expect(await made.json()).toMatchObject({ session: { tenantId: 'acme', status: 'queued' } });
      const viewerAuth = { ...auth, authorization: `Bearer ${viewerKey}` };
      const refused = await fetch(`${server.url}/v1/sessions`, {
        method: 'POST',
        headers: viewerAuth,
        body: JSON.stringify({ agent: 'anything', message: 'hello' }),
      });
      expect(refused.status).toBe(403);
      expect(await refused.json()).toMatchObject({ error: { code: 'PERMISSION_DENIED' } });
      expect((await fetch(`${server.url}/v1/sessions`, { headers: viewerAuth })).status).toBe(200);
      expect((await fetch(`${server.url}/v1/sessions`)).status).toBe(401);
      expect((await fetch(`${server.url}/v1/health`)).status).toBe(200);
      expect((await fetch(`${server.url}/`)).headers.get('content-type')).toMatch(/text\/html/);
      expect(longrun(['keys', 'revoke', record!.id], cwd).status).toBe(0);
      expect((await fetch(`${server.url}/v1/sessions`, { headers: auth })).status).toBe(401);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toBe(0);
  });

  it('refuses --no-auth off loopback', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-serve-'));
    const r = longrun(['serve', '--no-auth', '--host', '0.0.0.0', '--port', '0'], cwd);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/loopback/);
  });

  it('longrun dev serves the API and dashboard beside its worker: create, stream, approve over HTTP', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-dev-api-'));
    const dev = await startServer(['dev', '--port', '0', '--agents', fixture], cwd);
    try {
      expect(dev.output()).toMatch(/no API keys/);
      const health = (await (await fetch(`${dev.url}/v1/health`)).json()) as { auth: string };
      expect(health.auth).toBe('none');
      const json = { 'content-type': 'application/json' };
      const made = await fetch(`${dev.url}/v1/sessions`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ agent: 'approval-fixture', message: 'deploy api' }),
      });
      const { session } = (await made.json()) as { session: { id: string } };
      const approval = await waitFor('the approval', async () => {
        const inbox = (await (await fetch(`${dev.url}/v1/approvals`)).json()) as {
          approvals: { approvalId: string; sessionId: string; tool: string }[];
        };
        return inbox.approvals.find((a) => a.sessionId === session.id);
      });
      expect(approval.tool).toBe('deploy');
      const decided = await fetch(
        `${dev.url}/v1/sessions/${session.id}/approvals/${approval.approvalId}`,
        { method: 'POST', headers: json, body: JSON.stringify({ decision: 'approve' }) },
      );
      expect(decided.status).toBe(200);
      const stream = await fetch(`${dev.url}/v1/sessions/${session.id}/stream?follow=false`);
      const text = await stream.text();
      expect(text.startsWith('retry: 1000\n\nevent: session.state\n')).toBe(true);
      expect(text).toMatch(/event: approval\.granted\n/);
      expect(text).toMatch(/event: session\.completed\n/);
    } finally {
      dev.child.kill('SIGTERM');
    }
    expect(await dev.exited).toBe(0);
  });
});

describe('longrun dev with a bubblewrap sandbox pool', () => {
  it("runs the example agent's commands in pooled bwrap sandboxes and reports the pool at /v1/figures", async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-dev-sandbox-'));
    const args = ['dev', '--port', '0', '--agents', example, '--sandbox', 'bwrap'];
    const dev = await startServer([...args, '--sandbox-pool', '2', '--sandbox-strict'], cwd);
    try {
      const made = await fetch(`${dev.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'fix-failing-test', message: 'Fix the failing tests.' }),
      });
      const { session } = (await made.json()) as { session: { id: string } };
      const status = await waitFor('the end of the session', async () => {
        const got = (await (await fetch(`${dev.url}/v1/sessions/${session.id}`)).json()) as {
          session: { status: string };
        };
        return ['completed', 'failed'].includes(got.session.status)
          ? got.session.status
          : undefined;
      });
      expect(status).toBe('completed');
      const page = (await (
        await fetch(`${dev.url}/v1/sessions/${session.id}/events?limit=1000`)
      ).json()) as { events: { type: string; data: { tool?: string; output?: unknown } }[] };
      const runs = page.events
        .filter((e) => e.type === 'tool.completed' && e.data.tool === 'run_command')
        .map((e) => String(e.data.output).split('\n')[0]);
      // The repository's tests fail, then pass after the fix: both runs inside the sandbox.
      expect(runs).toEqual(['exit code 1', 'exit code 0']);
      const figures = (await (await fetch(`${dev.url}/v1/figures`)).json()) as {
        sandboxPool: { size: number; inUse: number; provisioningMsP50: number | null };
      };
      expect(figures.sandboxPool).toMatchObject({ size: 2 });
      expect(figures.sandboxPool.provisioningMsP50).toBeGreaterThan(0);
    } finally {
      dev.child.kill('SIGTERM');
    }
    expect(await dev.exited).toBe(0);
  });
});

const pgUrl = testUrl;

describeWithServer(
  'longrun serve beside longrun worker on Postgres',
  await probeTestServer(),
  () => {
    it("streams the worker's token deltas and events to the API process through LISTEN/NOTIFY", async () => {
      const schema = `cli_${randomBytes(5).toString('hex')}`;
      const store = `${pgUrl}?schema=${schema}`;
      const cwd = mkdtempSync(join(tmpdir(), 'longrun-serve-pg-'));
      const key = longrun(
        ['keys', 'create', '--tenant', 'acme', '--store', store],
        cwd,
      ).stdout.trim();
      const server = await startServer(['serve', '--store', store, '--port', '0'], cwd);
      const worker = background(['worker', '--store', store, '--agents', example], cwd).child;
      try {
        const auth = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
        const made = await fetch(`${server.url}/v1/sessions`, {
          method: 'POST',
          headers: auth,
          body: JSON.stringify({
            agent: 'fix-failing-test',
            message: 'The tests fail. Fix the code.',
          }),
        });
        const { session } = (await made.json()) as { session: { id: string } };
        const stream = await fetch(`${server.url}/v1/sessions/${session.id}/stream?follow=false`, {
          headers: auth,
        });
        const text = await stream.text();
        expect(text).toMatch(/event: session\.completed\n/);
        expect((text.match(/event: model\.delta\n/g) ?? []).length).toBeGreaterThan(0);
      } finally {
        server.child.kill('SIGTERM');
        worker.kill('SIGTERM');
        await server.exited;
        await new Promise((r) => worker.once('exit', r));
        await dropSchema(schema);
      }
    });
  },
);
