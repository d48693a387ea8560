/**
 * A worker process of the sub-agent swarm crash test: `node swarm-worker-process.ts <storeUrl>
 * <workerId> <dir>`. It runs `lead`, which starts `members` sub-agents in one `run_subagents`
 * call, and `member`, which charges its task three times (one per turn) to a keyed ledger under `<dir>/ledger` (applied once
 * per idempotency key; every attempt logged) and answers. `ready` on stdout once it runs.
 */
import { flushCompileCache } from 'node:module';
import { join } from 'node:path';
import { z } from 'zod';
import { workerId } from '@longrun/core';
import { Worker, defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import { FileLedger } from '../ledger/file-ledger.ts';

const [storeUrl = '', id = '', dir = ''] = process.argv.slice(2);
const members = Number(process.env.LONGRUN_SWARM_MEMBERS ?? 8);
const chargesPerMember = 3;
const ledger = new FileLedger(join(dir, 'ledger'));

const charge = defineTool({
  name: 'charge',
  description: 'charges a task to the ledger',
  input: z.object({ task: z.string() }),
  effect: 'keyed',
  async run({ task }, context) {
    ledger.apply(context.idempotencyKey, task);
    // Long enough that a kill often lands inside a tool call.
    await new Promise((r) => setTimeout(r, 300));
    return `charged ${task}`;
  },
});

const member = defineAgent({
  name: 'member',
  // Three charges, one per turn (`<task>#1`…`#3`), then the answer.
  model: scriptedModel((request) => {
    const task = request.messages.find((m) => m.role === 'user');
    const text = task?.role === 'user' ? task.content : '';
    const turn = request.messages.filter((m) => m.role === 'assistant').length;
    return turn >= chargesPerMember
      ? { text: `done: ${text}` }
      : { toolCalls: [{ id: `c${turn}`, name: 'charge', args: { task: `${text}#${turn + 1}` } }] };
  }),
  instructions: 'Charge your task.',
  tools: [charge],
  workspaceRoot: join(dir, 'workspaces'),
  workspaceSnapshots: false,
});

const tasks = Array.from({ length: members }, (_, i) => ({ agent: 'member', task: `task-${i}` }));
const lead = defineAgent({
  name: 'lead',
  model: scriptedModel((request) =>
    request.messages.some((m) => m.role === 'tool')
      ? { text: 'the swarm is done' }
      : { toolCalls: [{ id: 'swarm', name: 'run_subagents', args: { tasks } }] },
  ),
  instructions: 'Delegate.',
  tools: [],
  workspaceRoot: join(dir, 'workspaces'),
  workspaceSnapshots: false,
  subAgents: { agents: ['member'], maxParallel: members },
});

const store = await openStore(storeUrl, { applicationName: `longrun-swarm-${id}` });
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [lead, member],
  leaseMs: Number(process.env.LONGRUN_LEASE_MS ?? 1_000),
  pollMs: 20,
});
worker.on('log', (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
await worker.start();
process.stdout.write('ready\n');
flushCompileCache();
process.on('SIGTERM', () => {
  void worker
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
