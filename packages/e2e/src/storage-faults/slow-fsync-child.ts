/**
 * The process of slow-fsync.test.ts, run under strace with every fsync delayed:
 * `node slow-fsync-child.ts <dir>`. It opens a SQLite store in `dir`, serves the HTTP API over
 * it on loopback, and keeps one session appending (each append awaits its commit) while a 10 ms
 * timer records how late it fires. It prints `{ url, sessionId }` once serving, and on stdin's
 * end prints `{ commitsMs, lateMs }` — every commit's duration and every tick's lateness — and
 * exits.
 */
import { join } from 'node:path';
import { createApi, serveApi } from '@longrun/api';
import { openStore } from '@longrun/cli';
import { event, workerId, type Lease, type SessionStore } from '@longrun/core';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: slow-fsync-child.ts <dir>');
const store: SessionStore = await openStore(join(dir, 'longrun.db'));
const session = await store.createSession({ agent: 'slow-fsync', input: 'append' });
const lease = (await store.claim(session.id, workerId('slow-fsync'), 600_000)) as Lease;
const api = createApi({ store, auth: 'none', pollMs: 25 });
const served = await serveApi(api, { port: 0 });

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

process.stdout.write(`${JSON.stringify({ url: served.url, sessionId: session.id })}\n`);
process.stdin.resume();
process.stdin.on('end', () => {
  stopped = true;
  clearInterval(ticks);
  void appending
    .then(() => served.close())
    .then(() => store.close())
    .then(() => {
      process.stdout.write(`${JSON.stringify({ commitsMs, lateMs })}\n`);
      process.exit(0);
    });
});
