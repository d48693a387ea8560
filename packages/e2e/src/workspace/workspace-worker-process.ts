/**
 * A worker "machine" for the workspace takeover test:
 * `node workspace-worker-process.ts <storeUrl> <workerId> <workspaceRoot> <gateDir> <driver>`.
 * Each process gets its own workspace root, as a worker on another host would. The agent writes a
 * file, runs a command that makes more (an executable script, a random binary), then calls `hold`,
 * which blocks until `<gateDir>/open` exists, then runs a command that reads what the first two
 * steps made. `driver` is `process` or `bwrap` (the command tool runs in that sandbox).
 * Prints `ready`, `holding <attempt>` when `hold` runs, and `ended <sessionId> <outcome>`.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { workerId, type ModelRequest } from '@longrun/core';
import { Worker, defineAgent, defineTool, shellTool, writeFileTool } from '@longrun/runtime';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { bwrapDriver } from '@longrun/sandbox';
import { openStore } from '@longrun/cli';

const [storeUrl = '', id = '', workspaceRoot = '', gateDir = '', driverName = 'process'] =
  process.argv.slice(2);
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

export const workspaceAgentName = 'workspace-takeover';

const hold = defineTool({
  name: 'hold',
  description: 'waits until the test lets it go',
  input: z.object({}),
  effect: 'idempotent',
  run: async (_input, { attempt, signal }) => {
    out(`holding ${attempt}`);
    const deadline = Date.now() + 120_000;
    while (!existsSync(join(gateDir, 'open'))) {
      if (Date.now() > deadline || signal.aborted) throw new Error('the gate never opened');
      await new Promise((r) => setTimeout(r, 10));
    }
    return 'released';
  },
});

const make =
  'mkdir -p bin && printf "#!/bin/sh\\necho hello from the script\\n" > bin/run.sh && chmod 755 bin/run.sh' +
  ' && head -c 300000 /dev/urandom > data.bin';

function turn(request: ModelRequest): ScriptedTurn {
  const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
  const call = (name: string, args: Record<string, string>): ScriptedTurn => ({
    toolCalls: [{ id: `s${step}`, name, args }],
  });
  if (step === 1) return call('write_file', { path: 'notes/plan.md', content: 'plan v1\n' });
  if (step === 2) return call('run_command', { command: make });
  if (step === 3) return call('hold', {});
  if (step === 4) return call('run_command', { command: 'cat notes/plan.md && ./bin/run.sh' });
  return { text: 'done' };
}

const sandbox = driverName === 'bwrap' ? { driver: await bwrapDriver() } : undefined;
const agent = defineAgent({
  name: workspaceAgentName,
  model: scriptedModel(turn),
  instructions: 'Make the files, hold, then check them.',
  tools: [writeFileTool, shellTool({ effect: 'idempotent' }), hold],
  workspaceRoot,
  ...(sandbox ? { sandbox } : {}),
});

const store = await openStore(storeUrl);
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [agent],
  leaseMs: 2_000,
  pollMs: 20,
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
