/**
 * A worker process for the durable-wait crash tests: `node wait-worker-process.ts <storeUrl>
 * <workerId> <dir>`. Runs the `waiter` agent: its one tool call sleeps 2 s, makes a webhook (its
 * token appended to `<dir>/tokens`), waits for the webhook, then waits for the signal `go`, and
 * returns both payloads. Every run of the tool appends a line to `<dir>/runs` (before any wait:
 * what a resumed call runs again). LONGRUN_WAIT_DIE_AT=<event type> makes the process SIGKILL
 * itself the moment such an event is acknowledged.
 *
 * Reports on stdout: `ready`, `ack <sessionId> <seq> <type> <signal or ->` for every event the
 * store acknowledged, `ended <sessionId> <outcome>`.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { workerId } from '@longrun/core';
import { Worker, defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';

const [storeUrl = '', id = '', dir = ''] = process.argv.slice(2);
const dieAt = process.env.LONGRUN_WAIT_DIE_AT ?? '';
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const waitAll = defineTool({
  name: 'wait_all',
  description: 'sleeps, waits for a webhook, then for the signal go',
  input: z.object({}),
  effect: 'keyed',
  async run(_input, context) {
    appendFileSync(join(dir, 'runs'), `${process.pid} ${context.attempt}\n`);
    await context.sleep(2_000);
    const hook = await context.createWebhook({ timeoutMs: 120_000 });
    appendFileSync(join(dir, 'tokens'), `${hook.token}\n`);
    const delivered = await hook.wait();
    const go = await context.waitForSignal('go', { timeoutMs: 120_000 });
    return {
      hook: delivered.timedOut ? 'timed out' : delivered.payload,
      go: go.timedOut ? 'timed out' : go.payload,
    };
  },
});

const agent = defineAgent({
  name: 'waiter',
  model: scriptedModel((request) =>
    (request.context?.step ?? 1) === 1
      ? { text: 'waiting', toolCalls: [{ name: 'wait_all', args: {} }] }
      : { text: 'Done.' },
  ),
  instructions: 'Wait for everything.',
  tools: [waitAll],
  workspaceSnapshots: false,
  workspaceRoot: join(dir, 'workspaces'),
});

const store = await openStore(storeUrl, { applicationName: `longrun-wait-crash-${id}` });
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [agent],
  leaseMs: 2_000,
  pollMs: 20,
});
worker.on('events.committed', ({ events }) => {
  for (const e of events) {
    const signal = e.type === 'wait.started' && e.data.kind === 'signal' ? e.data.signal : '-';
    out(`ack ${e.sessionId} ${e.seq} ${e.type} ${signal}`);
    if (e.type === dieAt) process.kill(process.pid, 'SIGKILL');
  }
});
worker.on('session.ended', ({ sessionId, outcome }) => out(`ended ${sessionId} ${outcome}`));
worker.on('log', (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
await worker.start();
out('ready');
process.on('SIGTERM', () => {
  void worker
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
