/**
 * The process of slow-fsync.test.ts, run under strace with every fsync delayed:
 * `node slow-fsync-child.ts <dir>`. It opens a SQLite store in `dir`, serves the HTTP API over
 * it on loopback, keeps one session appending (each append awaits its commit), and runs a worker
 * whose agent's model streams a token every 20 ms (the harness persists the stream coalesced,
 * each of those appends a commit), while a 10 ms timer records how late it fires. It prints
 * `{ url, sessionId, committingOn }` once the tokens flow, and on stdin's end prints `{ commitsMs, lateMs,
 * tokenGapsMs }` — every commit's duration, every tick's lateness, the time between tokens as
 * the worker's live readers got them — and exits.
 */
import { join } from 'node:path';
import { createApi, serveApi } from '@longrun/api';
import { openStore } from '@longrun/cli';
import {
  event,
  workerId,
  type Lease,
  type ModelClient,
  type ModelResponse,
  type SessionStore,
} from '@longrun/core';
import { Worker, defineAgent } from '@longrun/runtime';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: slow-fsync-child.ts <dir>');
const store: SessionStore = await openStore(join(dir, 'longrun.db'));
const session = await store.createSession({ agent: 'slow-fsync', input: 'append' });
const lease = (await store.claim(session.id, workerId('slow-fsync'), 600_000)) as Lease;
const api = createApi({ store, auth: 'none', pollMs: 25 });
const served = await serveApi(api, { port: 0 });
// The writes made while the store's writer thread starts are committed on the event loop (each
// one a delayed fsync); what is timed is the store once its commits have settled where they run.
const committingOn = await (
  store as SessionStore & { committingOn(): Promise<string> }
).committingOn();

const commitsMs: number[] = [];
const lateMs: number[] = [];
let stopped = false;
const appending = (async () => {
  let head = lease.headSeq;
  while (!stopped) {
    const start = performance.now();
    const appended = await store.append({
      fence: lease,
      expectedSeq: head,
      events: [event('user.messaged', { text: `note ${head}`, signalId: null })],
    });
    head = appended.headSeq;
    commitsMs.push(performance.now() - start);
  }
})();
let last = performance.now();
const ticks = setInterval(() => {
  const now = performance.now();
  lateMs.push(now - last - 10);
  last = now;
}, 10);

/** Streams a token every 20 ms until the worker stops it. */
const pacedModel: ModelClient = {
  id: 'slow-fsync:paced',
  stream: (request, onDelta) =>
    new Promise<ModelResponse>((_resolve, reject) => {
      let n = 0;
      const tokens = setInterval(() => onDelta(`t${n++} `), 20);
      request.signal?.addEventListener('abort', () => {
        clearInterval(tokens);
        reject(new Error('stopped'));
      });
    }),
};
const agent = defineAgent({
  name: 'paced',
  model: pacedModel,
  instructions: '',
  tools: [],
  workspaceRoot: join(dir, 'workspaces'),
});
await store.createSession({ agent: agent.name, input: 'stream' });
const worker = new Worker({ store, agents: [agent], pollMs: 20 });
const tokenGapsMs: number[] = [];
let lastToken: number | undefined;
let firstToken!: () => void;
const streaming = new Promise<void>((resolve) => (firstToken = resolve));
worker.on('model.delta', () => {
  const now = performance.now();
  if (lastToken !== undefined) tokenGapsMs.push(now - lastToken);
  lastToken = now;
  firstToken();
});
await worker.start();
await streaming;

process.stdout.write(
  `${JSON.stringify({ url: served.url, sessionId: session.id, committingOn })}\n`,
);
process.stdin.resume();
process.stdin.on('end', () => {
  stopped = true;
  clearInterval(ticks);
  const gaps = tokenGapsMs.slice();
  void worker
    .stop()
    .then(() => appending)
    .then(() => served.close())
    .then(() => store.close())
    .then(() => {
      process.stdout.write(`${JSON.stringify({ commitsMs, lateMs, tokenGapsMs: gaps })}\n`);
      process.exit(0);
    });
});
