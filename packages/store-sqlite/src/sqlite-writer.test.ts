import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeAppend,
  encodeCreateSession,
  isLongrunError,
  signalNames,
  workerId,
  type Lease,
  type SessionId,
} from '@longrun/core';
import { SqliteStore } from './sqlite-store.ts';
import { ThreadWriter, moduleArgv, threadExecArgv } from './sqlite-writer.ts';
import { cancelSignalName, type AppendWrite } from './sqlite-append.ts';
import { openWriterConnection } from './writer-connection.ts';
import type { WriterOptions } from './writer-protocol.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'longrun-sqlite-writer-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const owner = workerId('w1');
const lease = { bootId: 'test-boot', nowMs: 1_000 };

/** A writer on a fresh file, its thread started (writes before that commit on this thread). */
async function startedWriter(): Promise<{
  writer: ThreadWriter;
  connection: DatabaseSync;
  options: WriterOptions;
}> {
  const options: WriterOptions = { path: join(dir, 'db.sqlite'), busyTimeoutMs: 5_000, nowMs: 1 };
  const { connection } = openWriterConnection(options, { migrate: true });
  const writer = new ThreadWriter(options, connection);
  await writer.threadStarted();
  return { writer, connection, options };
}

/**
 * A connection that takes the write lock: it waits for it, since the writer thread may hold it
 * for a moment after its first commit (growing the log, wal-growth.ts).
 */
function lockHolder(path: string): DatabaseSync {
  const holder = new DatabaseSync(path, { timeout: 5_000 });
  holder.exec('BEGIN IMMEDIATE');
  return holder;
}

async function claimedSession(writer: ThreadWriter): Promise<Lease> {
  const created = await writer.write('createSession', {
    ...encodeCreateSession({ agent: 'a', input: null }),
    nowMs: 1,
    held: null,
  });
  if (!('row' in created)) throw new Error('no session created');
  const held = await writer.write('claim', {
    id: created.row.id as SessionId,
    owner,
    leaseMs: 60_000,
    nowMs: 1,
    lease,
  });
  if (held === null) throw new Error('session not claimed');
  return held;
}

function appendWrite(held: Lease, expectedSeq: number): AppendWrite {
  const fence = { sessionId: held.sessionId, owner: held.owner, epoch: held.epoch };
  const { status: _status, ...encoded } = encodeAppend({
    fence,
    expectedSeq,
    events: [{ type: 'user.messaged', data: { text: 'hi', signalId: null } }] as never,
  });
  return { fence, expectedSeq, encoded, status: undefined, nowMs: 2 };
}

/** A seeded generator of numbers in [0, 1), its seed printed so a failing run can be repeated. */
function seededDoorbellRandom(label: string): { seed: number; next: () => number } {
  const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 1_000_000);
  console.log(`${label} seed ${seed} (LONGRUN_SEED=${seed} repeats it)`);
  let state = seed >>> 0;
  const next = (): number => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return state / 2 ** 32;
  };
  return { seed, next };
}

/** Spins for 0-300 µs: the thread is caught busy, falling asleep, asleep or waking. */
function pauseUpTo300us(next: () => number): void {
  const until = performance.now() + next() * 0.3;
  while (performance.now() < until);
}

/** `answer`, or a failure naming `what` when it has not come within 5 s. */
async function answeredWithin5s<T>(answer: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const unanswered = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} unanswered for 5 s`)), 5_000);
  });
  return Promise.race([answer, unanswered]).finally(() => clearTimeout(timer));
}

describe('the SQLite writer thread', () => {
  it('leaves the event loop running while a commit waits: the lock is released by a callback of this thread, then the append commits', async () => {
    const { writer, connection, options } = await startedWriter();
    try {
      const held = await claimedSession(writer);
      // Another connection holds the write lock, as a slow commit or fsync would: the writer
      // thread waits in SQLite's busy handler. Had the commit run on this thread, no callback
      // below could run until it gave up (busyTimeoutMs), and the append would fail.
      const holder = lockHolder(options.path);
      let settled = false;
      const appended = writer.write('append', appendWrite(held, 1)).finally(() => (settled = true));
      let turns = 0;
      for (; turns < 50; turns++) await new Promise((resolve) => setImmediate(resolve));
      expect(settled).toBe(false);
      holder.exec('COMMIT');
      holder.close();
      expect(await appended).toEqual({ headSeq: 2, atMs: 2 });
      // Read your writes: once the append resolved, this thread's connection sees it.
      const row = connection
        .prepare('SELECT head_seq FROM sessions WHERE id = ?')
        .get(held.sessionId);
      expect(row?.head_seq).toBe(2);
    } finally {
      await writer.close();
      connection.close();
    }
  });

  it('gives the answers of one group commit to their writers one turn of the event loop apart', async () => {
    const { writer, connection } = await startedWriter();
    let turn = 0;
    let ticking = true;
    const tick = (): void => {
      turn++;
      if (ticking) setImmediate(tick);
    };
    try {
      const leases: Lease[] = [];
      for (let i = 0; i < 32; i++) leases.push(await claimedSession(writer));
      setImmediate(tick);
      // Sent together, the 32 appends share one or two commits; each writer's continuation
      // notes the turn in which its answer came.
      const turns = await Promise.all(
        leases.map(async (held) => {
          await writer.write('append', appendWrite(held, 1));
          return turn;
        }),
      );
      const perTurn = new Map<number, number>();
      for (const t of turns) perTurn.set(t, (perTurn.get(t) ?? 0) + 1);
      // At most two in one turn: the one given where the answers arrive, one in the check phase.
      expect(Math.max(...perTurn.values())).toBeLessThanOrEqual(2);
    } finally {
      ticking = false;
      await writer.close();
      connection.close();
    }
  });

  it('fails the writes of a thread that dies with a typed, retryable error, and starts a new one', async () => {
    const { writer, connection, options } = await startedWriter();
    try {
      const held = await claimedSession(writer);
      const write = appendWrite(held, 1);
      // Another connection holds the write lock, so the append is surely in flight (waiting in
      // SQLite's busy handler) when the thread dies; without it, a thread that commits and
      // answers first acknowledges the write (which stands), and nothing here failed.
      const holder = lockHolder(options.path);
      const lost = writer.write('append', write);
      for (let turn = 0; turn < 20; turn++) await new Promise((r) => setImmediate(r));
      const crashed = writer.crashThread();
      holder.exec('ROLLBACK');
      holder.close();
      await crashed;
      const error = await lost.then(
        () => null,
        (e: unknown) => e,
      );
      expect(isLongrunError(error, 'STORE_UNAVAILABLE'), String(error)).toBe(true);
      expect((error as { retryable: boolean }).retryable).toBe(true);
      expect((error as Error).message).toMatch(/writer thread stopped/);
      // Whether or not it committed before the thread died, the same append sent again (same
      // appendId) lands once; a new thread takes the writes after it.
      expect(await writer.write('append', write)).toEqual({ headSeq: 2, atMs: 2 });
      expect(await writer.committingOn()).toBe('writer-thread');
      expect(await writer.write('append', appendWrite(held, 2))).toEqual({ headSeq: 3, atMs: 2 });
      const events = connection
        .prepare(
          'SELECT seq FROM session_log WHERE session_key = (SELECT created_order FROM sessions WHERE id = ?)',
        )
        .all(held.sessionId);
      expect(events.map((e) => e.seq)).toEqual([1, 2, 3]);
    } finally {
      await writer.close();
      connection.close();
    }
  });

  it('keeps only the options a thread started from a file accepts', () => {
    expect(
      threadExecArgv([
        '--conditions=@longrun/source',
        '--input-type=module',
        '-e',
        'code',
        '--input-type',
        'module',
        '--enable-source-maps',
      ]),
    ).toEqual(['--conditions=@longrun/source', '--enable-source-maps']);
  });

  it('starts its thread in a process run with options a thread refuses (V8, per-process)', async () => {
    const flags = ['--max-old-space-size=256', '--expose-gc', '--stack-size=2000', '--title=lr'];
    const child = spawn(
      process.execPath,
      [
        ...flags,
        '--input-type=module',
        '-e',
        `const { ThreadWriter } = await import(${JSON.stringify(new URL('./sqlite-writer.ts', import.meta.url).href)});
         const { openWriterConnection } = await import(${JSON.stringify(new URL('./writer-connection.ts', import.meta.url).href)});
         process.on('warning', (w) => console.log('warning: ' + w.message));
         const options = { path: ${JSON.stringify(join(dir, 'flags.db'))}, busyTimeoutMs: 5000, nowMs: 1 };
         const { connection } = openWriterConnection(options, { migrate: true });
         const writer = new ThreadWriter(options, connection);
         await writer.threadStarted();
         const { encodeCreateSession } = await import('@longrun/core');
         const created = await writer.write('createSession', { ...encodeCreateSession({ agent: 'a', input: null }), nowMs: 1, held: null });
         console.log('row' in created ? 'created' : 'not created');
         await writer.close();
         connection.close();
         console.log('done');`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect({ code, out: out.trim(), err }).toEqual({ code: 0, out: 'created\ndone', err: '' });
  });

  it('commits on the event loop, with a warning, where the permission model forbids threads', async () => {
    const child = spawn(
      process.execPath,
      [
        '--permission',
        '--allow-fs-read=*',
        '--allow-fs-write=*',
        '--input-type=module',
        '-e',
        `const { ThreadWriter } = await import(${JSON.stringify(new URL('./sqlite-writer.ts', import.meta.url).href)});
         const { openWriterConnection } = await import(${JSON.stringify(new URL('./writer-connection.ts', import.meta.url).href)});
         const { encodeCreateSession } = await import('@longrun/core');
         process.on('warning', (w) => console.log('warning: ' + w.message));
         const options = { path: ${JSON.stringify(join(dir, 'no-threads.db'))}, busyTimeoutMs: 5000, nowMs: 1 };
         const { connection } = openWriterConnection(options, { migrate: true });
         const writer = new ThreadWriter(options, connection);
         await writer.threadStarted();
         for (let i = 0; i < 2; i++) {
           const created = await writer.write('createSession', { ...encodeCreateSession({ agent: 'a', input: null }), nowMs: 1, held: null });
           console.log('row' in created ? 'created' : 'not created');
         }
         console.log(await writer.committingOn());
         await writer.close();
         console.log(connection.prepare('SELECT count(*) AS n FROM sessions').get().n);
         connection.close();`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.resume();
    const code = await new Promise((resolve) => child.once('exit', resolve));
    const lines = out.trim().split('\n');
    expect({ code, lines: lines.slice(1) }).toEqual({
      code: 0,
      lines: ['created', 'created', 'event-loop', '2'],
    });
    expect(lines[0]).toMatch(
      /^warning: the SQLite writer thread could not be started \(.*--allow-worker.*\); commits run on the event loop$/,
    );
  });

  it('gives a thread only the module-loading options when the process has options it refuses', () => {
    expect(
      moduleArgv([
        '--max-old-space-size=256',
        '--conditions',
        '@longrun/source',
        '--expose-gc',
        '-C',
        'dev',
        '--import=./otel.js',
        '--stack-size',
        '--enable-source-maps',
        '--disable-warning=ExperimentalWarning',
      ]),
    ).toEqual([
      '--conditions',
      '@longrun/source',
      '-C',
      'dev',
      '--import=./otel.js',
      '--enable-source-maps',
      '--disable-warning=ExperimentalWarning',
    ]);
  });

  it("spells the cancel signal's name as core does", () => {
    expect(cancelSignalName).toBe(signalNames.cancel);
  });

  it('loads nothing of @longrun/core but its packed-json subpath, so that it starts fast', () => {
    // Value imports reachable from the thread's entry; type-only imports are erased.
    const seen = new Set<string>();
    const valueImports: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const text = readFileSync(new URL(file, import.meta.url), 'utf8');
      for (const m of text.matchAll(/^import\s+(type\s+)?([^'"]*?)\s*from\s+'([^']+)';/gms)) {
        const [, typeOnly, names = '', from = ''] = m;
        const allTypes =
          /^\{[^}]*\}$/s.test(names) &&
          names
            .slice(1, -1)
            .split(',')
            .every((n) => n.trim() === '' || n.trim().startsWith('type '));
        if (typeOnly !== undefined || allTypes) continue;
        valueImports.push(from);
        if (from.startsWith('./')) visit(from);
      }
    };
    visit('./sqlite-writer-thread.ts');
    expect(seen.size).toBeGreaterThan(5);
    // The modules of core it shares with the Postgres store: packed JSON, which loads only
    // node:zlib (and its own deflate, which loads nothing), and releaseBytes, which loads nothing.
    const packedJson = '@longrun/core/packed-json';
    const releaseBytes = '@longrun/core/release-bytes';
    const importsOf = (file: string) =>
      [
        ...readFileSync(new URL(`../../core/src/${file}`, import.meta.url), 'utf8').matchAll(
          /^import .* from '([^']+)';/gm,
        ),
      ].map((m) => m[1]);
    expect(importsOf('packed-json.ts')).toEqual(['node:zlib', './fixed-deflate.ts']);
    expect(importsOf('fixed-deflate.ts')).toEqual([]);
    expect(importsOf('release-bytes.ts')).toEqual([]);
    const fromLongrun = valueImports.filter((from) => from.startsWith('@longrun/'));
    expect(fromLongrun.filter((from) => from !== packedJson && from !== releaseBytes)).toEqual([]);
  });
});

describe('a SQLite store with its writer thread', () => {
  it('says where its commits run: on the writer thread for a file, on the event loop in memory', async () => {
    const onFile = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const inMemory = await SqliteStore.open({ path: ':memory:' });
    try {
      expect(await onFile.committingOn()).toBe('writer-thread');
      expect(await inMemory.committingOn()).toBe('event-loop');
    } finally {
      await onFile.close();
      await inMemory.close();
    }
  });

  it('commits and acknowledges every write made before close, then refuses more', async () => {
    const path = join(dir, 'db.sqlite');
    const store = await SqliteStore.open({ path });
    const leases: Lease[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await store.createSession({ agent: 'a', input: i });
      leases.push((await store.claim(s.id, owner, 60_000)) as Lease);
    }
    const appends = leases.map((held) =>
      store.append({
        fence: held,
        expectedSeq: 1,
        events: [{ type: 'user.messaged', data: { text: 'last', signalId: null } }] as never,
      }),
    );
    await store.close();
    const results = await Promise.allSettled(appends);
    expect(results.map((r) => r.status)).toEqual(leases.map(() => 'fulfilled'));
    await expect(store.getSession(leases[0]!.sessionId)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    await expect(store.releaseLease(leases[0]!)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    const reopened = await SqliteStore.open({ path });
    try {
      const heads = await reopened.getSessions(leases.map((l) => l.sessionId));
      expect(heads.map((s) => s.headSeq)).toEqual(leases.map(() => 2));
    } finally {
      await reopened.close();
    }
  });

  it('shows each session its own write at once, with many sessions committing together', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    try {
      const sessions = await Promise.all(
        Array.from({ length: 32 }, (_, i) => store.createSession({ agent: 'a', input: i })),
      );
      const leases = await Promise.all(sessions.map((s) => store.claim(s.id, owner, 60_000)));
      const seen = await Promise.all(
        leases.map(async (held) => {
          let head = 1;
          for (let step = 0; step < 10; step++) {
            const r = await store.append({
              fence: held!,
              expectedSeq: head,
              events: [
                { type: 'user.messaged', data: { text: `${step}`, signalId: null } },
              ] as never,
            });
            head = r.headSeq;
            // Read-your-writes on this thread's connection, right after the append resolved.
            const events = await store.readEvents(held!.sessionId, head - 1);
            expect(events.map((e) => e.seq)).toEqual([head]);
          }
          return (await store.getSession(held!.sessionId)).headSeq;
        }),
      );
      expect(seen).toEqual(leases.map(() => 11));
    } finally {
      await store.close();
    }
  });

  it('wakes its thread for a write whenever the thread fell asleep, at any instant (seeded)', async () => {
    // One write at a time, each after a pause of 0–300 µs: the thread is caught busy, just
    // falling asleep, or asleep. A wake-up lost in between would leave a write unanswered.
    const { seed, next } = seededDoorbellRandom('doorbell test');
    const { writer } = await startedWriter();
    try {
      const held = await claimedSession(writer);
      let head = 1;
      for (let i = 0; i < 1_500; i++) {
        pauseUpTo300us(next);
        const result = await answeredWithin5s(
          writer.write('append', appendWrite(held, head)),
          `write ${i} (seed ${seed})`,
        );
        head = result.headSeq;
      }
      expect(head).toBe(1_501);
    } finally {
      await writer.close();
    }
  });

  it('answers every write of bursts sent together, whenever the thread fell asleep (seeded)', async () => {
    // Bursts of 1-6 writes (one per session) after pauses of 0-300 µs: the writes of a burst
    // ring while the thread is busy, falling asleep, asleep or waking; none may be left untaken.
    const { seed, next } = seededDoorbellRandom('doorbell burst test');
    const { writer } = await startedWriter();
    try {
      const leases: Lease[] = [];
      for (let i = 0; i < 6; i++) leases.push(await claimedSession(writer));
      const heads = leases.map(() => 1);
      let sent = 0;
      for (let burst = 0; burst < 400; burst++) {
        pauseUpTo300us(next);
        const writers = leases.slice(0, 1 + Math.floor(next() * leases.length));
        const results = await answeredWithin5s(
          Promise.all(
            writers.map((held, i) => writer.write('append', appendWrite(held, heads[i]!))),
          ),
          `burst ${burst} (seed ${seed})`,
        );
        results.forEach((result, i) => (heads[i] = result.headSeq));
        sent += writers.length;
      }
      expect(heads.reduce((sum, head) => sum + head - 1, 0)).toBe(sent);
    } finally {
      await writer.close();
    }
  });

  it('refuses a reply spin outside 0 to 100 ms when it opens, with a typed error', async () => {
    let thrown: unknown;
    try {
      await SqliteStore.open({ path: join(dir, 'db.sqlite'), replySpinMs: 500 });
    } catch (error) {
      thrown = error;
    }
    expect(isLongrunError(thrown, 'INVALID_ARGUMENT')).toBe(true);
    expect((thrown as Error).message).toMatch(
      /replySpinMs is 500: give milliseconds from 0 to 100/,
    );
    // Off is allowed, and the store works without it.
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite'), replySpinMs: 0 });
    try {
      const session = await store.createSession({ agent: 'a', input: null });
      expect((await store.getSession(session.id)).headSeq).toBe(1);
    } finally {
      await store.close();
    }
  });

  it('stores a blob given as a view into a larger buffer as exactly its bytes', async () => {
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    try {
      const whole = Buffer.from('0123456789abcdef');
      const view = whole.subarray(4, 8);
      const hash = (await import('node:crypto')).createHash('sha256').update(view).digest('hex');
      await store.blobs.put(hash, view);
      expect(Buffer.from((await store.blobs.get(hash))!).toString()).toBe('4567');
    } finally {
      await store.close();
    }
  });

  it("frees a blob's bytes once written when the caller gives them up, and never the caller's own", async () => {
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const { createHash, randomBytes } = await import('node:crypto');
    const blob = () => {
      // Random (kept as they are, not deflated) and in a buffer of their own.
      const bytes = new Uint8Array(randomBytes(64 * 1024));
      return {
        bytes,
        copy: Buffer.from(bytes),
        hash: createHash('sha256').update(bytes).digest('hex'),
      };
    };
    try {
      const given = blob();
      await store.blobs.put(given.hash, given.bytes, { transfer: true });
      expect(given.bytes.buffer.detached, 'given up: freed once written').toBe(true);
      expect(Buffer.from((await store.blobs.get(given.hash))!).equals(given.copy)).toBe(true);
      const kept = blob();
      await store.blobs.put(kept.hash, kept.bytes);
      expect(kept.bytes.buffer.detached, "the caller's: left alone").toBe(false);
      expect(Buffer.from(kept.bytes).equals(kept.copy)).toBe(true);
      expect(Buffer.from((await store.blobs.get(kept.hash))!).equals(kept.copy)).toBe(true);
    } finally {
      await store.close();
    }
  });

  it('lets the process exit, whether the store was closed or not', async () => {
    for (const close of [true, false]) {
      const child = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { SqliteStore } = await import(${JSON.stringify(new URL('./sqlite-store.ts', import.meta.url).href)});
           const store = await SqliteStore.open({ path: ${JSON.stringify(join(dir, `exit-${close}.db`))} });
           const s = await store.createSession({ agent: 'a', input: null });
           await store.claim(s.id, 'w', 60000);
           ${close ? 'await store.close();' : ''}
           console.log('done');`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const code = await new Promise((resolve) => child.once('exit', resolve));
      expect({ close, code, out: out.trim() }).toEqual({ close, code: 0, out: 'done' });
    }
  });
});
