/**
 * Debug bundles and offline replay, end to end, with real `longrun` processes on a SQLite file:
 * a session of the bundle agent is killed with SIGKILL inside a tool call, resumed by a new
 * worker, approved with `longrun sessions approve`, and forked with `longrun sessions fork`; the
 * fork asks for and gets its own approval. Invariants:
 * - `longrun sessions bundle` writes every file, consistent with the store, and a canary secret
 *   planted in the worker's environment (and echoed into the log by a tool) is in no byte of it;
 * - the first call's arguments, too large for the log, are in the bundle (`tool-inputs/`) only;
 * - `longrun replay` re-runs both bundles with 0 divergences (exit 0);
 * - a bundle with one tool result changed replays to a divergence at that result (exit 1).
 */
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { readBundle } from '@longrun/runtime';
import { sqliteTarget, type StoreTarget } from '../store-targets.ts';
import { BundleWorker, bundleAgentModule, longrun } from './bundle-processes.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(20);
  }
}

describe('debug bundle and offline replay of a killed, approved and forked session', () => {
  let target: StoreTarget;
  let store: SessionStore;
  let dir: string;
  let env: Record<string, string>;
  let id: SessionId;
  let forkId: SessionId;
  const canary = `canary-${randomUUID()}`;
  const workers: BundleWorker[] = [];

  const events = (sid: SessionId): Promise<StoredEvent[]> => store.readEvents(sid, 0, 10_000);
  const worker = (name: string) => {
    const w = new BundleWorker(target.url, name, dir, env);
    workers.push(w);
    return w;
  };
  const cli = (args: string[]) => longrun([...args, '--store', target.url], dir, env);
  const replay = (path: string) =>
    longrun(['replay', path, '--agents', bundleAgentModule], dir, env);
  const status = async (sid: SessionId, wanted: string) =>
    (await store.getSession(sid)).status === wanted ? true : undefined;

  beforeAll(async () => {
    target = await sqliteTarget();
    dir = target.dir;
    mkdirSync(join(dir, 'ws'), { recursive: true });
    env = {
      LONGRUN_BUNDLE_DIR: dir,
      LONGRUN_BUNDLE_WORKSPACES: join(dir, 'ws'),
      // The canary: in the worker's environment, and the credential the whoami tool reads.
      LONGRUN_CANARY_SECRET: canary,
      SERVICE_API_KEY: canary,
    };
    store = await openStore(target.url);
    id = (await store.createSession({ agent: 'bundle-agent', input: { task: 'deploy api' } })).id;

    // Killed inside the gated note of step 3 (tool.started committed, no result).
    const first = worker('bundle-w1');
    await until('the gated note started', async () =>
      (await events(id)).find((e) => e.type === 'tool.started' && e.data.step === 3),
    );
    await first.kill('SIGKILL');
    writeFileSync(join(dir, 'open'), '');
    // The same worker id again: the restarted process reclaims the session at boot.
    const second = worker('bundle-w1');
    await until('the deploy asks for approval', () => status(id, 'waiting'));
    const approved = cli(['sessions', 'approve', id, '--reason', 'ship it']);
    expect(approved.status, approved.stderr).toBe(0);
    await until('the session completes', () => status(id, 'completed'));
    await second.kill('SIGTERM');

    // Forked before its approval: the fork asks again and is approved on its own.
    const log = await events(id);
    const asked = log.find((e) => e.type === 'wait.started')!;
    const forked = cli(['sessions', 'fork', id, '--at', String(asked.seq), '--json']);
    expect(forked.status, forked.stderr).toBe(0);
    forkId = (JSON.parse(forked.stdout) as { id: SessionId }).id;
    const third = worker('bundle-w2');
    // The fork waits on the copied request; a decision on it is asked again in the fork (its own
    // approval): each pending one is approved, at most three times.
    for (let i = 0; i < 3 && (await store.getSession(forkId)).status !== 'completed'; i++) {
      await until('the fork waits for a person', async () => {
        const s = await store.getSession(forkId);
        return s.status === 'completed' || (s.status === 'waiting' && s.leaseOwner === null)
          ? true
          : undefined;
      });
      if ((await store.getSession(forkId)).status === 'completed') break;
      const approvedFork = cli(['sessions', 'approve', forkId]);
      expect(approvedFork.status, approvedFork.stderr).toBe(0);
      await until('the decision is taken', async () =>
        (await store.getSession(forkId)).status !== 'waiting' ? true : undefined,
      );
    }
    await until('the fork completes', () => status(forkId, 'completed'));
    await third.kill('SIGTERM');
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) await w.kill('SIGKILL');
    await store?.close();
    await target?.drop();
  });

  it('the recorded log has the kill, the approval and the canary (so the checks below can fail)', async () => {
    const log = await events(id);
    const gated = log.filter((e) => e.type === 'tool.completed' && e.data.step === 3);
    expect(gated).toHaveLength(1);
    expect(gated[0]?.type === 'tool.completed' && gated[0].data.attempt).toBe(2);
    expect(log.map((e) => e.type)).toContain('approval.granted');
    expect(JSON.stringify(log)).toContain(canary);
    const plan = log.find((e) => e.type === 'model.responded')!;
    expect(plan.type === 'model.responded' && plan.data.toolCalls[0]?.inputRef).toMatchObject({
      chars: expect.any(Number) as number,
    });
    expect(JSON.stringify(log)).not.toContain('check 2000 of 2000');
  });

  it('longrun sessions bundle writes every file, consistent with the store, and no canary', async () => {
    const path = join(dir, 'original.tar.gz');
    const made = cli(['sessions', 'bundle', id, '-o', path]);
    expect(made.status, made.stderr).toBe(0);
    expect(made.stdout).toContain(path);
    const files = await readBundle(path, { keep: () => true });
    for (const name of [
      'session.jsonl',
      'last_state.json',
      'tool_calls.csv',
      'requests.jsonl',
      'trace.json',
      'workspace.diff',
      'env.txt',
      'bundle.json',
      'workspace/PROGRESS.md',
      'workspace/notes/plan.md',
      'workspace/notes/done.md',
      'progress/PROGRESS.md',
    ])
      expect(files.has(name), name).toBe(true);
    const log = await events(id);
    const lines = files.get('session.jsonl')!.toString().trimEnd().split('\n');
    expect(lines).toHaveLength(log.length);
    expect(lines.map((l) => (JSON.parse(l) as StoredEvent).type)).toEqual(log.map((e) => e.type));
    const state = JSON.parse(files.get('last_state.json')!.toString()) as {
      headSeq: number;
      state: { status: string };
    };
    expect(state).toMatchObject({ headSeq: log.length, state: { status: 'completed' } });
    const csv = files.get('tool_calls.csv')!.toString().trimEnd().split('\n');
    expect(csv).toHaveLength(1 + log.filter((e) => e.type === 'tool.completed').length);
    expect(csv.some((row) => /,deploy,[0-9a-f]{64},\d+,ok,$/.test(row))).toBe(true);
    expect(files.get('workspace/PROGRESS.md')!.toString()).toContain('- deployed');
    expect(files.get('workspace.diff')!.toString()).toContain('+- deployed');
    // The spans an OTLP exporter would send: a turn, its model calls, its tool calls.
    const trace = JSON.parse(files.get('trace.json')!.toString()) as {
      resourceSpans: { scopeSpans: { spans: { name: string }[] }[] }[];
    };
    const spans = trace.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
    const names = spans.map((s) => s.name);
    expect(names.some((n) => n.startsWith('invoke_agent'))).toBe(true);
    expect(names.filter((n) => n === 'execute_tool deploy')).toHaveLength(1);
    expect(names.filter((n) => n.startsWith('chat')).length).toBeGreaterThanOrEqual(6);
    const envTxt = files.get('env.txt')!.toString();
    expect(envTxt).toMatch(/agent: bundle-agent\n/);
    expect(envTxt).toMatch(/models: scripted:bundle\n/);
    expect(envTxt).toMatch(/store kind: sqlite\n/);
    // The canary, raw or base64, in no byte of the archive once decompressed.
    const raw = gunzipSync(readFileSync(path));
    expect(raw.length).toBeGreaterThan(10_000);
    expect(raw.includes(canary)).toBe(false);
    expect(raw.includes(Buffer.from(canary).toString('base64'))).toBe(false);
    expect(files.get('session.jsonl')!.toString()).toContain('"checkedWith":"****');
    // The plan's arguments, kept outside the log, are in the bundle whole for the replay.
    const inputs = [...files.keys()].filter((name) => name.startsWith('tool-inputs/'));
    expect(inputs).toHaveLength(1);
    expect(files.get(inputs[0]!)!.toString()).toContain('check 2000 of 2000');
  });

  it('longrun sessions bundle <id> writes <id>.bundle.tar.gz in the current directory by default', () => {
    const made = cli(['sessions', 'bundle', forkId]);
    expect(made.status, made.stderr).toBe(0);
    expect(existsSync(join(dir, `${forkId}.bundle.tar.gz`))).toBe(true);
  });

  it('longrun replay re-runs the killed and approved session offline: 0 divergences', () => {
    const replayed = replay(join(dir, 'original.tar.gz'));
    expect(replayed.stdout + replayed.stderr).toContain('0 divergences');
    expect(replayed.status).toBe(0);
    expect(replayed.stdout).toMatch(/1 inputs fed from the recording/);
  }, 120_000);

  it('longrun replay re-runs the fork (its copied prefix copied, its own approval fed): 0 divergences', () => {
    const replayed = replay(join(dir, `${forkId}.bundle.tar.gz`));
    expect(replayed.stdout + replayed.stderr).toContain('0 divergences');
    expect(replayed.status).toBe(0);
  }, 120_000);

  it('a bundle with one tool result changed replays to a divergence at that result (exit 1)', async () => {
    const out = join(dir, 'tampered');
    mkdirSync(out, { recursive: true });
    const untar = spawnSync('tar', ['-xzf', join(dir, 'original.tar.gz'), '-C', out]);
    expect(untar.status, String(untar.stderr)).toBe(0);
    const lines = readFileSync(join(out, 'session.jsonl'), 'utf8').trimEnd().split('\n');
    const changed = lines.map((l) => JSON.parse(l) as StoredEvent);
    const at = changed.find((e) => e.type === 'tool.completed' && e.data.tool === 'note')!;
    if (at.type !== 'tool.completed') throw new Error('no note result');
    at.data.output = 'wrote 0 characters to notes/plan.md';
    writeFileSync(
      join(out, 'session.jsonl'),
      changed.map((e) => `${JSON.stringify(e)}\n`).join(''),
    );
    const path = join(dir, 'tampered.tar.gz');
    const tar = spawnSync('tar', ['-czf', path, '-C', out, '.']);
    expect(tar.status, String(tar.stderr)).toBe(0);
    const replayed = replay(path);
    expect(replayed.status, replayed.stdout + replayed.stderr).toBe(1);
    expect(replayed.stdout).toContain(`recorded seq ${at.seq} tool.completed`);
    expect(replayed.stdout).toMatch(/request of step 2 is not the recorded one/);
  }, 120_000);
});
