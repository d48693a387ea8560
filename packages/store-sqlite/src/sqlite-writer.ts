import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import {
  AppendCommitTally,
  LongrunError,
  OnePerTurn,
  ReplySpin,
  defaultReplySpinMs,
  type AppendCommits,
  type DurabilityReport,
} from '@longrun/core';
import { commitBatch } from './group-commit.ts';
import type { WriteArgs, WriteName, WriteResult } from './sqlite-writes.ts';
import { statementCache } from './writer-db.ts';
import { fromWireError } from './translate-error.ts';
import {
  ringDoorbell,
  type WriteReply,
  type WriteRequest,
  type WriterMessage,
  type WriterOptions,
  type WriterThreadData,
} from './writer-protocol.ts';

/** Where a store's writes are committed. */
export interface SqliteWriter {
  /** Queues the write for the next group commit; resolves once it is committed (fsync'd). */
  write<K extends WriteName>(name: K, args: WriteArgs<K>): Promise<WriteResult<K>>;
  /** Commits every write already queued, then stops; later writes fail with STORE_UNAVAILABLE. */
  close(): Promise<void>;
  /**
   * Where commits run once the writer has settled: `writer-thread` when the thread is ready,
   * `event-loop` when there is none (an in-memory database, or a thread that could not start or
   * open the file).
   */
  committingOn(): Promise<CommittingOn>;
  /** The appends committed so far and the commits that carried them. */
  appendCommits(): AppendCommits;
}

/** Where a SQLite store's commits and their fsyncs run (SqliteStore.committingOn). */
export type CommittingOn = 'writer-thread' | 'event-loop';

/**
 * The thread's script, beside this module: from source, both are .ts; built by tsc, .js; in the
 * package's bundle (scripts/bundle-dist.ts, whose modules end in .bundled.js), the thread's bundle.
 */
const threadScript = new URL(
  import.meta.url.endsWith('.ts')
    ? './sqlite-writer-thread.ts'
    : import.meta.url.endsWith('.bundled.js')
      ? './sqlite-writer-thread.bundled.js'
      : './sqlite-writer-thread.js',
  import.meta.url,
);

const closedError = () => new LongrunError('STORE_UNAVAILABLE', 'the SQLite store is closed');

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** A write sent to the thread, when (performance.now()), and whether it is an append. */
interface Sent extends Pending {
  sentAt: number;
  append: boolean;
}

/**
 * One writer thread (sqlite-writer-thread.ts) and the writes sent to it that it has not answered.
 * The thread keeps the process alive only while a write waits for its answer: an idle store
 * never stops the process from exiting, and an awaited write is never abandoned by it.
 */
class WriterThread {
  readonly opened: Promise<DurabilityReport>;
  readonly exited: Promise<void>;
  #alive = true;
  readonly #worker: Worker;
  readonly #doorbell = new Int32Array(new SharedArrayBuffer(8));
  readonly #pending = new Map<number, Sent>();
  #nextId = 1;
  #openFailure: LongrunError | undefined;
  #closing = false;
  /**
   * Answers received and not yet given to their writers, oldest first. A group commit answers
   * the writes of many sessions at once; settled together, every one of those sessions would
   * run its step up to its next write in one go before a timer, a stream or an API request got
   * a turn. One per turn, they interleave.
   */
  readonly #unsettled = new OnePerTurn();
  /** Keeps the event loop awake while a write's answer is awaited (core's ReplySpin). */
  readonly #spin: ReplySpin;

  readonly #tally: AppendCommitTally;

  constructor(options: WriterOptions, spinMs: number, tally: AppendCommitTally) {
    this.#tally = tally;
    this.#spin = new ReplySpin(spinMs, () => this.#pending.size > 0);
    this.#worker = startThread({ ...options, doorbell: this.#doorbell.buffer });
    let opened!: (durability: DurabilityReport) => void;
    let failed!: (error: LongrunError) => void;
    this.opened = new Promise((resolve, reject) => {
      opened = resolve;
      failed = reject;
    });
    // Whoever awaits `opened` sees its failure; a restarted thread's is seen by its writes.
    this.opened.catch(() => undefined);
    this.#worker.on('message', (message: WriterMessage) => {
      if ('replies' in message) {
        const now = performance.now();
        // One message answers one commit (group-commit.ts).
        let appends = 0;
        for (const reply of message.replies) {
          const sent = this.#pending.get(reply.id);
          if (sent === undefined) continue;
          this.#spin.answered(now - sent.sentAt);
          if (sent.append && reply.ok) appends++;
        }
        this.#tally.committed(appends);
        this.#unsettled.push(...message.replies.map((reply) => () => this.#settle(reply)));
      } else if ('opened' in message) {
        if (this.#pending.size === 0) this.#worker.unref();
        opened(message.opened);
      } else {
        this.#openFailure = fromWireError(message.failed);
        failed(this.#openFailure);
      }
    });
    let crash: Error | undefined;
    this.#worker.on('error', (error: Error) => {
      crash = error;
    });
    this.exited = new Promise((resolve) => {
      this.#worker.once('exit', (code) => {
        this.#alive = false;
        const error = this.#openFailure ?? threadStopped(code, crash);
        failed(error);
        // What the thread answered before it ended stands: a committed write is acknowledged.
        this.#unsettled.flush();
        for (const pending of this.#pending.values()) pending.reject(error);
        this.#pending.clear();
        resolve();
      });
    });
  }

  get alive(): boolean {
    return this.#alive;
  }

  send(name: WriteRequest['name'], args: unknown): Promise<unknown> {
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      try {
        this.#worker.postMessage({ id, name, args } satisfies WriteRequest);
        ringDoorbell(this.#doorbell);
      } catch (error) {
        reject(
          new LongrunError(
            'INTERNAL',
            `cannot send a write to the SQLite writer thread: ${(error as Error).message}`,
            { cause: error },
          ),
        );
        return;
      }
      this.#pending.set(id, {
        resolve,
        reject,
        sentAt: performance.now(),
        append: name === 'append',
      });
      if (this.#pending.size === 1) this.#worker.ref();
      this.#spin.sent();
    });
  }

  /**
   * Sends `close`, answered once every write sent before it is committed and the connection is
   * closed; the thread then ends. If it dies instead, its writes failed: none was acknowledged.
   * The thread keeps the process alive until it has ended.
   */
  async close(): Promise<void> {
    if (!this.#alive) return;
    this.#closing = true;
    this.#worker.ref();
    await this.send('close', undefined).catch(() => undefined);
    await this.exited;
  }

  /** Ends the thread at once, as a crash would, whatever it is doing. */
  async terminate(): Promise<void> {
    await this.#worker.terminate();
    await this.exited;
  }

  #settle(reply: WriteReply): void {
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0 && !this.#closing) this.#worker.unref();
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(fromWireError(reply.error));
  }
}

/**
 * The writer thread, started with the process's Node options (threadExecArgv). A thread refuses
 * the options that belong to the whole process — V8's (`--max-old-space-size`, `--expose-gc`,
 * `--stack-size`) and per-process ones (`--title`, `--abort-on-uncaught-exception`) — with
 * ERR_WORKER_INVALID_EXEC_ARGV; a process started with any of them gets a thread with only the
 * options that say how modules resolve and load, which is all the writer's code needs.
 */
function startThread(data: WriterThreadData): Worker {
  const execArgv = threadExecArgv(process.execArgv);
  try {
    return new Worker(threadScript, { workerData: data, execArgv });
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw error;
    return new Worker(threadScript, { workerData: data, execArgv: moduleArgv(execArgv) });
  }
}

/** Options that say how modules resolve and load, or how warnings show, and take a value. */
const moduleOptionsWithValue = new Set([
  '-C',
  '--conditions',
  '--import',
  '-r',
  '--require',
  '--loader',
  '--experimental-loader',
  '--disable-warning',
]);
/** All the options a thread gets when the process has one it refuses: those, and these flags. */
const moduleOptions = new Set([
  ...moduleOptionsWithValue,
  '--experimental-strip-types',
  '--no-experimental-strip-types',
  '--experimental-transform-types',
  '--experimental-require-module',
  '--enable-source-maps',
  '--no-warnings',
  '--no-deprecation',
]);

/** Of `execArgv`, the module-loading options (moduleOptions) and their values. */
export function moduleArgv(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    const name = arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    if (!moduleOptions.has(name)) continue;
    kept.push(arg);
    const value = execArgv[i + 1];
    if (!arg.includes('=') && moduleOptionsWithValue.has(name) && value !== undefined) {
      kept.push(value);
      i++;
    }
  }
  return kept;
}

/**
 * The process's Node options for the thread (export conditions, loaders), without those that
 * name the main script's input, which a thread started from a file refuses (`node -e`,
 * `--input-type=module`).
 */
export function threadExecArgv(execArgv: readonly string[]): string[] {
  const withValue = new Set(['-e', '--eval', '-p', '--print', '--input-type']);
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i] as string;
    if (withValue.has(arg)) i++;
    else if (
      !arg.startsWith('--input-type=') &&
      !arg.startsWith('--eval=') &&
      !arg.startsWith('--print=')
    )
      kept.push(arg);
  }
  return kept;
}

function threadStopped(exitCode: number, crash: Error | undefined): LongrunError {
  const why = crash === undefined ? `exit code ${exitCode}` : crash.message;
  return new LongrunError(
    'STORE_UNAVAILABLE',
    `the SQLite writer thread stopped (${why}) before it answered; the write may or may not have been committed. Retry it: the store starts a new writer thread, and an append sent again with the same appendId is applied once.`,
    { cause: crash },
  );
}

/**
 * The writer of a database file: a worker thread that owns the connection that writes, so a
 * slow commit or fsync never blocks this thread's event loop.
 *
 * The thread takes some milliseconds to start; the store is usable at once: until the thread
 * says it is ready, writes are committed here, on the store's own connection (which opened the
 * file and migrated it), and when it is ready, what was queued here is committed before the
 * first write is sent to it. So one connection writes at a time and writes keep their order.
 * A thread that dies fails the writes it held with STORE_UNAVAILABLE (retryable); the next write
 * starts a new one. A thread that cannot open the file leaves the writes here (with a warning).
 */
export class ThreadWriter implements SqliteWriter {
  readonly #options: WriterOptions;
  readonly #spinMs: number;
  readonly #inline: InlineWriter;
  readonly #tally = new AppendCommitTally();
  /** Null when no thread could be started (the permission model without --allow-worker). */
  #thread: WriterThread | null;
  #threadReady = false;
  #threadRefused = false;
  #closed = false;

  /**
   * `connection`: the store's own, opened and migrated; it writes until the thread is ready.
   * `spinMs`: how long the event loop is kept awake for a write's answer (core's ReplySpin).
   */
  constructor(options: WriterOptions, connection: DatabaseSync, spinMs = defaultReplySpinMs) {
    this.#options = options;
    this.#spinMs = spinMs;
    this.#inline = new InlineWriter(connection, this.#tally);
    this.#thread = this.#startThread();
  }

  appendCommits(): AppendCommits {
    return this.#tally.counts();
  }

  /** Resolves once writes go to the thread (or stay here because it could not open the file). */
  async threadStarted(): Promise<void> {
    await this.#thread?.opened.catch(() => undefined);
  }

  async committingOn(): Promise<CommittingOn> {
    if (!this.#closed) this.#restartDeadThread();
    await this.threadStarted();
    return this.#threadReady && this.#thread !== null ? 'writer-thread' : 'event-loop';
  }

  write<K extends WriteName>(name: K, args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.#closed) return Promise.reject(closedError());
    this.#restartDeadThread();
    if (!this.#threadReady || this.#thread === null) return this.#inline.write(name, args);
    return this.#thread.send(name, args) as Promise<WriteResult<K>>;
  }

  /**
   * Ends the writer thread at once, as a crash would (for tests of what writes in flight get):
   * they fail with STORE_UNAVAILABLE; the next write starts a new thread.
   */
  async crashThread(): Promise<void> {
    await this.#thread?.terminate();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inline.close();
    await this.#thread?.close();
  }

  /** A thread that died (or never started) is replaced, unless threads are refused here. */
  #restartDeadThread(): void {
    if (!this.#threadRefused && this.#thread?.alive !== true) this.#thread = this.#startThread();
  }

  #startThread(): WriterThread | null {
    let thread: WriterThread;
    try {
      thread = new WriterThread(this.#options, this.#spinMs, this.#tally);
    } catch (error) {
      // Node's permission model without --allow-worker: the store still works, on this thread.
      this.#threadRefused = true;
      process.emitWarning(
        `the SQLite writer thread could not be started (${(error as Error).message}); commits run on the event loop`,
      );
      return null;
    }
    this.#threadReady = false;
    thread.opened.then(
      () => {
        if (this.#thread !== thread || this.#closed) return;
        this.#inline.flush();
        this.#threadReady = true;
      },
      (error: unknown) => {
        if (this.#thread !== thread || this.#closed) return;
        this.#threadRefused = true;
        process.emitWarning(
          `the SQLite writer thread could not open ${this.#options.path} (${(error as Error).message}); commits run on the event loop`,
        );
      },
    );
    return thread;
  }
}

/**
 * The writer of an in-memory database, which only one connection can see: it commits on the
 * store's own connection, on this thread, with the same group commit (no fsync to wait for).
 */
export class InlineWriter implements SqliteWriter {
  readonly #connection: DatabaseSync;
  readonly #db: ReturnType<typeof statementCache>;
  #queue: { request: WriteRequest; pending: Pending }[] = [];
  #closed = false;
  readonly #tally: AppendCommitTally;

  /** `tally`: where its commits are counted (a ThreadWriter's, while its thread starts). */
  constructor(connection: DatabaseSync, tally = new AppendCommitTally()) {
    this.#connection = connection;
    this.#db = statementCache(connection);
    this.#tally = tally;
  }

  appendCommits(): AppendCommits {
    return this.#tally.counts();
  }

  write<K extends WriteName>(name: K, args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise<unknown>((resolve, reject) => {
      const request = { id: this.#queue.length, name, args };
      this.#queue.push({ request, pending: { resolve, reject } });
      if (this.#queue.length === 1) setImmediate(() => this.flush());
    }) as Promise<WriteResult<K>>;
  }

  /** Commits what is queued now, in one transaction, and settles each write. */
  flush(): void {
    const batch = this.#queue;
    this.#queue = [];
    const replies = commitBatch(
      this.#connection,
      this.#db,
      batch.map((b) => b.request),
    );
    let appends = 0;
    replies.forEach((reply, i) => {
      const { request, pending } = batch[i] as (typeof batch)[number];
      if (reply.ok && request.name === 'append') appends++;
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(fromWireError(reply.error));
    });
    this.#tally.committed(appends);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.flush();
    this.#closed = true;
  }

  async committingOn(): Promise<CommittingOn> {
    return 'event-loop';
  }
}
