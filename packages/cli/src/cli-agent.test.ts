import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workerId } from '@longrun/core';
import { openStore } from './store-url.ts';
import {
  describeWithServer,
  dropSchema,
  probeTestServer,
  testUrl,
} from '@longrun/store-postgres/testing';
import { background, example, fixture, longrun, waitFor } from './test-fixtures/cli-process.ts';

describe('longrun with agents, as a subprocess', () => {
  it('refuses an agent that runs commands where bubblewrap does not isolate, and says how to opt out', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-nosandbox-'));
    const noBwrap = { LONGRUN_BWRAP: '/nonexistent/bwrap' };
    const refused = longrun(['run', example, 'Fix it.'], cwd, 60_000, noBwrap);
    expect(refused.status).toBe(4);
    expect(refused.stderr).toMatch(/need an isolating sandbox/);
    expect(refused.stderr).toMatch(/--sandbox process/);
    expect(refused.stderr).toMatch(/longrun doctor/);
    expect(refused.stderr).toMatch(/\[SANDBOX_UNAVAILABLE\]/);
    // Opting in by name runs it, and says on stderr that nothing is isolated.
    const opted = longrun(
      ['run', example, 'Fix it.', '--sandbox', 'process'],
      cwd,
      120_000,
      noBwrap,
    );
    expect(opted.status).toBe(0);
    expect(opted.stderr).toMatch(/--sandbox process: agents' commands are NOT isolated/);
  });

  it('refuses at load an agent module whose object literal holds what no worker could run', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-badagent-'));
    const module = join(cwd, 'bad-agent.mjs');
    // A model of no known kind: before, this loaded and the session paused later.
    writeFileSync(
      module,
      `export default { name: 'bad', instructions: 'x', tools: [], model: { modelId: 'gpt-x' } };\n`,
    );
    const refused = longrun(['run', module, 'Hi.', '--sandbox', 'process'], cwd, 60_000);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/bad-agent\.mjs: .*model/);
  });

  it('runs the example offline and leaves its tests green', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-run-'));
    const r = longrun(['run', example, 'The tests fail. Fix the code.'], cwd);
    // By default, commands run in bubblewrap sandboxes, and one line says so.
    expect(r.stderr).toMatch(
      /^longrun: agents' commands run in bwrap sandboxes \(\d+\/\d+ protections enforced.*\)\n$/,
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/→ run_command \{"command":"node --test"\}/);
    expect(r.stdout).toMatch(/completed in [\d.]+ s · \d+ in \/ \d+ out tokens/);
    const id = /session (ses_\w+)/.exec(r.stdout)?.[1] ?? '';
    const tests = spawnSync(process.execPath, ['--test'], {
      cwd: join(cwd, '.longrun/workspaces', id),
      encoding: 'utf8',
    });
    expect(tests.status).toBe(0);
    const tail = longrun(['sessions', 'tail', id], cwd);
    expect(tail.status).toBe(0);
    expect(tail.stdout).toMatch(/step 6: |session completed: "All tests pass now/);
    expect(tail.stdout.trimEnd().split('\n').at(-1)).toMatch(/session completed/);
    // The fix, between the workspace as prepared and its last snapshot, as a text diff.
    const diff = longrun(['sessions', 'diff', id, '--text'], cwd);
    expect(diff.stderr).toBe('');
    expect(diff.stdout).toMatch(
      /^workspace of ses_\w+: seq \d+ \(step 0, \w+\) → seq \d+ \(step \d+/,
    );
    expect(diff.stdout).toMatch(/^~ src\/slugify\.js {2}\d+ → \d+ bytes$/m);
    expect(diff.stdout).toMatch(/^--- a\/src\/slugify\.js$/m);
    expect(diff.stdout).toMatch(/^\+.*$/m);
    const whole = longrun(['sessions', 'diff', id, '--from', '0'], cwd);
    expect(whole.stdout).toMatch(/: empty → seq/);
    expect(whole.stdout).toMatch(/^\+ src\/words\.js/m);
  });

  it('waits for an approval given from another process, then runs the call once', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-approve-'));
    const run = background(['run', fixture, 'deploy api'], cwd);
    const store = await openStore(join(cwd, '.longrun/longrun.db'));
    const session = await waitFor(
      'a waiting session',
      async () => (await store.listSessions({ status: 'waiting' }))[0],
    );
    // The session is waiting once the request committed; `run` prints the approve line when
    // its worker's commit event reaches it, a moment later.
    await waitFor('the approve line', async () =>
      /approve: longrun sessions approve ses_\w+ apr_\w+/.test(run.output()) ? true : undefined,
    );
    const unscoped = longrun(['sessions', 'approve', session.id, '--scope', 'forever'], cwd);
    expect(unscoped.status).toBe(2);
    expect(unscoped.stderr).toMatch(/--scope must be one of call, arguments, tool/);
    const approved = longrun(['sessions', 'approve', session.id, '--scope', 'tool'], cwd);
    expect(approved.stdout).toMatch(
      /^granted apr_\w+ \(deploy\); every later deploy call of the session is granted too/,
    );
    expect(await run.exited).toBe(0);
    const granted = (await store.readEvents(session.id)).find((e) => e.type === 'approval.granted');
    expect(granted?.data).toMatchObject({
      scope: 'tool',
      by: expect.stringMatching(/@/) as string,
    });
    expect(readFileSync(join(cwd, '.longrun/workspaces', session.id, 'deploys.log'), 'utf8')).toBe(
      'api\n',
    );
    expect(longrun(['sessions', 'approve', session.id], cwd).stderr).toMatch(/no pending approval/);
    await store.close();
  });

  it('finishes a session after its worker is killed with SIGKILL and started again', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-worker-'));
    const store = await openStore(join(cwd, '.longrun/longrun.db'));
    const session = await store.createSession({
      agent: 'fix-failing-test',
      input: { task: 'fix the tests' },
    });
    const first = background(['worker', '--agents', example], cwd);
    await waitFor('a few steps', async () =>
      (await store.getSession(session.id)).headSeq > 12 ? true : undefined,
    );
    first.child.kill('SIGKILL');
    await first.exited;
    expect((await store.getSession(session.id)).status).toBe('running');
    const second = background(['worker', '--agents', example], cwd);
    await waitFor('completion', async () =>
      (await store.getSession(session.id)).status === 'completed' ? true : undefined,
    );
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    expect(existsSync(join(cwd, '.longrun/workspaces', session.id, 'src/slugify.js'))).toBe(true);
    const tests = spawnSync(process.execPath, ['--test'], {
      cwd: join(cwd, '.longrun/workspaces', session.id),
    });
    expect(tests.status).toBe(0);
    await store.close();
  });

  it('resumes a session a worker parked as paused, once a worker that knows its agent runs', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-resume-'));
    const store = await openStore(join(cwd, '.longrun/longrun.db'));
    const session = await store.createSession({ agent: 'approval-fixture', input: 'deploy api' });
    const early = longrun(['sessions', 'resume', session.id], cwd);
    expect(early.status).toBe(1);
    expect(early.stderr).toMatch(
      /is queued, not paused: there is nothing to resume.*\[INVALID_STATE\]/,
    );
    // Parked as a worker parks a session it cannot go on with, saying why.
    const lease = await store.claim(session.id, workerId('parker'), 10_000);
    await store.append({
      fence: lease!,
      expectedSeq: 1,
      events: [],
      status: { status: 'paused', reason: 'stopped by an error: the workspace is gone' },
      releaseLease: true,
    });
    expect(longrun(['sessions', 'list'], cwd).stdout).toMatch(
      /paused .*\(stopped by an error: the workspace is gone\)/,
    );
    const resumed = longrun(['sessions', 'resume', session.id, '--reason', 'agent deployed'], cwd);
    expect(resumed.stderr).toBe('');
    expect(resumed.stdout).toMatch(/^resume requested for ses_\w+/);
    // A worker that does not run the session's agent leaves it queued for one that does.
    const blind = background(['worker'], cwd);
    await waitFor('the blind worker', async () =>
      blind.output().includes('worker started') ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 300));
    blind.child.kill('SIGTERM');
    expect(await blind.exited).toBe(0);
    expect(await store.getSession(session.id)).toMatchObject({ status: 'queued', leaseEpoch: 1 });
    const worker = background(['worker', '--agents', fixture], cwd);
    await waitFor('the approval wait', async () =>
      (await store.getSession(session.id)).status === 'waiting' ? true : undefined,
    );
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    const show = longrun(['sessions', 'show', session.id], cwd).stdout;
    expect(show).toMatch(/^seq +2 {2}▶ session resumed by \S+: agent deployed$/m);
    expect(show.match(/session resumed/g)).toHaveLength(1);
    await store.close();
  });

  it('longrun dev runs the sessions others create, on the embedded store', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-dev-'));
    const dev = background(['dev', '--agents', fixture], cwd);
    await waitFor('the dev worker', async () =>
      dev.output().includes('worker started') ? true : undefined,
    );
    const store = await openStore(join(cwd, '.longrun/longrun.db'));
    const session = await store.createSession({ agent: 'approval-fixture', input: 'deploy api' });
    await waitFor('the approval wait', async () =>
      (await store.getSession(session.id)).status === 'waiting' ? true : undefined,
    );
    expect(longrun(['sessions', 'deny', session.id, '--reason', 'not today'], cwd).stdout).toMatch(
      /^denied apr_/,
    );
    await waitFor('completion', async () =>
      (await store.getSession(session.id)).status === 'completed' ? true : undefined,
    );
    dev.child.kill('SIGTERM');
    expect(await dev.exited).toBe(0);
    expect(existsSync(join(cwd, '.longrun/workspaces', session.id, 'deploys.log'))).toBe(false);
    await store.close();
  });
});

describeWithServer(
  'longrun run beside a longrun worker, on PostgreSQL',
  await probeTestServer(),
  () => {
    it('follows its session to the end when the other worker runs it', async () => {
      const cwd = mkdtempSync(join(tmpdir(), 'longrun-run-beside-'));
      const schema = `lr_run_${randomBytes(4).toString('hex')}`;
      const url = new URL(testUrl);
      url.searchParams.set('schema', schema);
      const store = url.href;
      // A worker up and woken by the store's notification claims the new session before run's own
      // worker has started (measured by an operator probe: 3 runs of 4); either way run must show
      // the session and end with its outcome.
      const other = background(['worker', '--store', store, '--agents', example], cwd);
      try {
        await waitFor('the worker', async () =>
          /worker started/.test(other.output()) ? true : undefined,
        );
        for (let round = 0; round < 2; round++) {
          const r = longrun(
            ['run', example, 'The tests fail. Fix the code.', '--store', store],
            cwd,
            90_000,
          );
          expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
          expect(r.stdout).toMatch(/→ run_command \{"command":"node --test"\}/);
          expect(r.stdout).toMatch(/completed in [\d.]+ s/);
          // Every step printed once, in order.
          const steps = [...r.stdout.matchAll(/· step (\d+) ·/g)].map((m) => Number(m[1]));
          expect(steps.length).toBeGreaterThan(2);
          expect(steps).toEqual(steps.map((_, i) => i + 1));
        }
      } finally {
        other.child.kill('SIGTERM');
        await other.exited;
        await dropSchema(schema);
      }
    });
  },
);
