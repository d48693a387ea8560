// Probe: one workspace-appending peer run of N steps; prints the stored bytes, keeps a copy of the db.
import { copyFileSync } from 'node:fs';
import { openStore } from '@longrun/cli';
import { sqliteTarget, postgresTarget } from '../store-targets.ts';
import { peerAgent } from './peer-agent.ts';
import { runPeerSessions } from './peer-runs.ts';
import { storeBytes } from './store-size.ts';

const kind = process.env.STORE ?? 'sqlite';
const steps = Number(process.env.STEPS ?? 800);
const appendTo = (process.env.APPEND ?? 'workspace') as 'workspace' | 'outside';
const target = kind === 'sqlite' ? await sqliteTarget() : await postgresTarget();
const store = await openStore(target.url, { poolSize: 3 });
const t0 = performance.now();
await runPeerSessions(store, peerAgent({ dir: target.dir, appendTo }), 1, steps);
const ms = performance.now() - t0;
const bytes = await storeBytes(store, target.url);
console.log(JSON.stringify({ kind, steps, appendTo, bytes, ms: Math.round(ms) }));
await store.close();
if (kind === 'sqlite' && process.env.KEEP) copyFileSync(target.url, process.env.KEEP);
if (kind === 'postgres' && process.env.KEEP) console.log('schema kept', target.url);
else await target.drop();
process.exit(0);
