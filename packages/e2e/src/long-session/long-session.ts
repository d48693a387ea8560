import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { createAnthropic } from '@ai-sdk/anthropic';
import { createOpenAI } from '@ai-sdk/openai';
import type { ModelClient, SessionId, SessionStore } from '@longrun/core';
import { aiSdkModel } from '@longrun/models';
import { Worker, defineAgent, defineTool } from '@longrun/runtime';
import {
  startWireServer,
  type GeneratedTurn,
  type WireRequest,
  type WireServer,
} from '@longrun/models/testing';

/**
 * A long scripted session against the wire server (issue 13): an agent whose model is a real AI
 * SDK provider client (Anthropic Messages or OpenAI Chat Completions) pointed at a wire server
 * that enforces a context window, as the providers do, and makes up each turn: one `note` call
 * per step, whose result is `outputChars` long, until step `steps`, then a final answer. The
 * agent's context is the server's window, so it compacts as it goes; a request over the window
 * would be refused (and recorded as a violation), as would one with a call left without result.
 */
export interface LongSessionShape {
  steps: number;
  /** The server's window and the agent's `context.windowTokens`. */
  windowTokens: number;
  protocol: 'anthropic' | 'openai-chat';
  /** Characters of each tool result (the transcript's growth per step). */
  outputChars: number;
  keepRecentTurns?: number;
}

export const summaryAsk = 'Summarize the conversation above';

/** The step a request asks for: one past the highest step its transcript (or summary) names. */
export function stepOf(request: WireRequest): number {
  const text = JSON.stringify(request.body);
  let highest = 0;
  for (const match of text.matchAll(/call_s(\d+)_|notes through step (\d+)/g)) {
    highest = Math.max(highest, Number(match[1] ?? match[2]));
  }
  return highest + 1;
}

/** Whether a request is a compaction's summary call (its last user message asks for one). */
export function isSummaryRequest(request: WireRequest): boolean {
  const text = JSON.stringify(request.body);
  return text.lastIndexOf(summaryAsk) > text.lastIndexOf('call_s');
}

/** The wire server's made-up turns for a session of `steps` steps. */
export function longSessionTurns(steps: number): (request: WireRequest) => GeneratedTurn {
  return (request) => {
    const step = stepOf(request);
    if (isSummaryRequest(request)) return { text: `notes through step ${step - 1} were taken` };
    if (step > steps) return { text: `done: ${steps} notes` };
    return {
      text: `step ${step}`,
      toolCalls: [{ id: `call_s${step}_0`, name: 'note', args: { line: `line ${step}` } }],
    };
  };
}

/** The wire server of a long session; `keepBodies: false` for a bench that measures memory. */
export async function startLongSessionServer(
  shape: LongSessionShape,
  options: { keepBodies?: boolean } = {},
): Promise<WireServer> {
  return startWireServer({
    contextWindowTokens: shape.windowTokens,
    generate: longSessionTurns(shape.steps),
    ...options,
  });
}

/** A real provider client (the AI SDK's) for `protocol`, pointed at a wire server. */
export function wireModel(baseURL: string, protocol: LongSessionShape['protocol']): ModelClient {
  const apiKey = 'sk-wire-test';
  return protocol === 'anthropic'
    ? aiSdkModel(createAnthropic({ apiKey, baseURL })('claude-sonnet-4-5'))
    : aiSdkModel(createOpenAI({ apiKey, baseURL }).chat('gpt-5-mini'));
}

/**
 * The agent of a long session, its model a real provider client pointed at the wire server at
 * `baseURL`; `summaryModel` replaces the one that writes compactions' summaries, `model` the
 * agent's (a bench's blocked model).
 */
export function longSessionAgent(
  baseURL: string,
  shape: LongSessionShape,
  dir: string,
  summaryModel?: ModelClient,
  model: ModelClient = wireModel(baseURL, shape.protocol),
) {
  const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(shape.outputChars / 27));
  const note = defineTool({
    name: 'note',
    description: 'notes a line and returns a receipt',
    input: z.object({ line: z.string() }),
    effect: 'idempotent',
    run: async ({ line }) => `noted ${line}: ${filler.slice(0, shape.outputChars)}`,
  });
  return defineAgent({
    name: 'long-session',
    model,
    instructions: 'Take one note per step until the task is done.',
    tools: [note],
    maxSteps: shape.steps + 10,
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
    context: {
      windowTokens: shape.windowTokens,
      ...(shape.keepRecentTurns === undefined ? {} : { keepRecentTurns: shape.keepRecentTurns }),
      ...(summaryModel === undefined ? {} : { summaryModel }),
    },
  });
}

/** Runs `sessionId` on one worker until it ends; `onStep` hears each step's time (ms). */
export async function runLongSession(
  store: SessionStore,
  agent: ReturnType<typeof defineAgent>,
  sessionId: SessionId,
  options: { onStep?: (step: number, ms: number) => void; stopAfterStep?: number } = {},
): Promise<void> {
  const worker = new Worker({ store, agents: [agent], pollMs: 2 });
  let last = performance.now();
  let ended!: () => void;
  const done = new Promise<void>((resolve) => (ended = resolve));
  worker.on('events.committed', ({ events }) => {
    for (const e of events) {
      if (e.type === 'model.responded') {
        const now = performance.now();
        options.onStep?.(e.data.step, now - last);
        last = now;
        if (options.stopAfterStep !== undefined && e.data.step >= options.stopAfterStep) ended();
      }
      if (e.type === 'session.completed' || e.type === 'session.failed') ended();
    }
  });
  await worker.start();
  await done;
  await worker.stop();
}
