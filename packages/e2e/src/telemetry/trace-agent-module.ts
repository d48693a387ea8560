/**
 * The module `longrun worker --agents` loads in the trace kill -9 test: `tracer`, whose scripted
 * model (a pure function of the transcript, so every worker process answers alike) makes
 *   step 1: `hold` — a tool that waits until `<dir>/gates/open` exists (a kill lands inside it);
 *   step 2: `run_subagents` with one `helper` task (a child session, a durable wait);
 *   step 3: a long streamed text (LONGRUN_TRACE_STREAM_CHARS characters, 2 per 10 ms: a kill
 *           lands mid-stream) and a `note` call;
 *   step 4: the answer;
 * and `helper`, which answers at once. LONGRUN_TRACE_DIR (required) is where the gate is.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';

const dir = process.env.LONGRUN_TRACE_DIR;
if (dir === undefined || dir === '') throw new Error('LONGRUN_TRACE_DIR is not set');
const streamChars = Number(process.env.LONGRUN_TRACE_STREAM_CHARS ?? 600);

const hold = defineTool({
  name: 'hold',
  description: 'waits until the test opens the gate',
  input: z.object({}),
  effect: 'idempotent',
  async run(_input, context) {
    const deadline = Date.now() + 120_000;
    while (!existsSync(join(dir, 'gates', 'open'))) {
      if (Date.now() > deadline) throw new Error('the gate never opened');
      context.signal.throwIfAborted();
      await new Promise((r) => setTimeout(r, 10));
    }
    return 'held';
  },
});

const note = defineTool({
  name: 'note',
  description: 'notes a word',
  input: z.object({ word: z.string() }),
  effect: 'pure',
  run: ({ word }) => Promise.resolve(`noted ${word}`),
});

const tracer = defineAgent({
  name: 'tracer',
  model: scriptedModel(
    (request) => {
      const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
      if (step === 1) return { text: 'holding', toolCalls: [{ id: 'h1', name: 'hold', args: {} }] };
      if (step === 2)
        return {
          toolCalls: [
            {
              id: 's2',
              name: 'run_subagents',
              args: { tasks: [{ agent: 'helper', task: 'look it up' }] },
            },
          ],
        };
      if (step === 3)
        return {
          text: 'x'.repeat(streamChars),
          toolCalls: [{ id: 'n3', name: 'note', args: { word: 'streamed' } }],
        };
      return { text: 'all done' };
    },
    { id: 'scripted:tracer', chunkSize: 2, chunkDelayMs: 10 },
  ),
  instructions: 'Follow the script.',
  tools: [hold, note],
  subAgents: { agents: ['helper'] },
  workspaceRoot: join(dir, 'workspaces'),
  workspaceSnapshots: false,
});

const helper = defineAgent({
  name: 'helper',
  model: scriptedModel(() => ({ text: 'found it' }), { id: 'scripted:helper' }),
  instructions: 'Answer.',
  tools: [],
  workspaceRoot: join(dir, 'workspaces'),
  workspaceSnapshots: false,
});

export default [tracer, helper];
