/**
 * The process of peer-slow-fsync.ts, run under strace with every fsync delayed:
 * `node peer-slow-fsync-child.ts <dir> <steps> <sessions>`. It runs the peer workload on SQLite
 * stores in `dir`, each run on a store of its own: two warm-up runs at `sessions` sessions and one
 * at one session (not recorded), then `rounds` rounds of one session and `sessions` sessions,
 * and prints one line of JSON: `{ runs: [{ sessions, stepsPerSecond, appendsPerCommit }] }`.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { openStore } from '@longrun/cli';
import { SqliteStore } from '@longrun/store-sqlite';
import { peerAgent } from './peer-agent.ts';
import { runPeerSessions } from './peer-runs.ts';

const [dir, stepsArg, sessionsArg, roundsArg] = process.argv.slice(2);
if (dir === undefined || stepsArg === undefined || sessionsArg === undefined)
  throw new Error('usage: peer-slow-fsync-child.ts <dir> <steps> <sessions> [rounds]');
const root: string = dir;
const steps = Number(stepsArg);
const many = Number(sessionsArg);
const rounds = Number(roundsArg ?? 2);

let runsStarted = 0;
async function run(sessions: number) {
  const runDir = join(root, `run-${runsStarted++}`);
  mkdirSync(runDir);
  const store = await openStore(join(runDir, 'longrun.db'), {
    poolSize: Math.min(32, sessions + 2),
  });
  try {
    // Timed once commits run on the writer thread, as in the peer bench (peer-workload.ts).
    if (store instanceof SqliteStore) await store.committingOn();
    const r = await runPeerSessions(store, peerAgent({ dir: runDir }), sessions, steps);
    return { sessions, stepsPerSecond: r.stepsPerSecond, appendsPerCommit: r.appendsPerCommit };
  } finally {
    await store.close();
  }
}

await run(many);
await run(many);
await run(1);
const runs = [];
for (let r = 0; r < rounds; r++) runs.push(await run(1), await run(many));
process.stdout.write(`${JSON.stringify({ runs })}\n`);
