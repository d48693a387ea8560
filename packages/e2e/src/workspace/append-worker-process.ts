/**
 * A worker "machine" for the workspace-edits crash test:
 * `node append-worker-process.ts <storeUrl> <workerId> <workspaceRoot> <steps>`.
 * Its agent appends one line per step to `log.txt` in its workspace, reading the file and writing
 * it whole as an agent's edit would, and every 10th step also rewrites a small binary file: small
 * changes, carried in the calls' results as workspace edits. After `steps` lines it answers.
 * Prints `ready`, `step <n>` as each append runs, and `ended <sessionId> <outcome>`.
 */
import { z } from 'zod';
import { workerId, type ModelRequest } from '@longrun/core';
import { Worker, defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import { appendAgentName, appendedLine } from './append-lines.ts';

const [storeUrl = '', id = '', workspaceRoot = '', stepsArg = '120'] = process.argv.slice(2);
const steps = Number(stepsArg);
const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const append = defineTool({
  name: 'append_line',
  description: 'appends one line to log.txt',
  input: z.object({ n: z.number().int() }),
  effect: 'idempotent',
  async run({ n }, { files }) {
    out(`step ${n}`);
    const before = (await files.stat('log.txt')) === null ? '' : await files.readFile('log.txt');
    await files.writeFile(
      'log.txt',
      Buffer.concat([Buffer.from(before), Buffer.from(`${appendedLine(n)}\n`)]),
    );
    if (n % 10 === 0) await files.writeFile('state.bin', Buffer.from([0xff, n & 0xff, 0x00, 0xfe]));
    return { n };
  },
});

function turn(request: ModelRequest): ScriptedTurn {
  const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
  if (step > steps) return { text: 'done' };
  return { toolCalls: [{ id: `s${step}`, name: 'append_line', args: { n: step } }] };
}

const agent = defineAgent({
  name: appendAgentName,
  model: scriptedModel(turn),
  instructions: 'Append the lines.',
  tools: [append],
  maxSteps: steps + 10,
  workspaceRoot,
});

const store = await openStore(storeUrl);
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [agent],
  leaseMs: 1_000,
  pollMs: 20,
});
worker.on('session.ended', ({ sessionId, outcome }) => out(`ended ${sessionId} ${outcome}`));
await worker.start();
out('ready');
