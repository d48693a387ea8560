import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JsonObject, JsonValue, SessionState } from '@longrun/core';
import type { ModelDecision, StepProgram, ToolDefinition } from '../program.ts';
import { FileLedger } from './file-ledger.ts';

export interface LedgerRunInput {
  /** Model turns before the run finishes. */
  steps: number;
  /** Every this many steps the run waits on a timer of `waitMs` (0: never). */
  waitEvery?: number;
  waitMs?: number;
  /** Simulated latency of each tool call, milliseconds (0 for benchmarks). */
  toolDelayMs?: number;
  /** After this many steps the run waits for the signal `continue` (0: never). */
  signalAfter?: number;
}

export interface LedgerProgramOptions {
  /** Where the external ledger (the keyed side effect) and the work file live. */
  dir: string;
  name?: string;
  /** The current time by the store clock, for timer waits. */
  nowMs?: () => number;
}

function readInput(state: SessionState): Required<LedgerRunInput> {
  const input = (state.input ?? {}) as Partial<LedgerRunInput>;
  return {
    steps: input.steps ?? 50,
    waitEvery: input.waitEvery ?? 0,
    waitMs: input.waitMs ?? 0,
    toolDelayMs: input.toolDelayMs ?? 0,
    signalAfter: input.signalAfter ?? 0,
  };
}

/**
 * The durable core's sample workload: a scripted model that, at every step, asks for one
 * file-appending tool call (`work.append`, idempotent by content) or a keyed call to an external
 * ledger (`ledger.apply`), waits on a timer now and then, and finishes after `steps` turns. It is
 * deterministic, so a run interrupted any number of times must leave the same log as one that
 * never was.
 */
export function ledgerProgram(options: LedgerProgramOptions): StepProgram {
  const ledger = new FileLedger(join(options.dir, 'ledger'));
  const delay = (ms: number): Promise<void> =>
    ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
  const tools: ToolDefinition[] = [
    {
      name: 'ledger.apply',
      effect: 'keyed',
      async run(args, context) {
        await delay(Number(args.delayMs ?? 0));
        ledger.apply(context.idempotencyKey, asText(args.entry));
        return { entry: args.entry ?? null };
      },
    },
    {
      name: 'work.append',
      effect: 'idempotent',
      async run(args) {
        await delay(Number(args.delayMs ?? 0));
        appendFileSync(join(options.dir, 'work.log'), `${asText(args.line)}\n`);
        return { appended: args.line ?? null };
      },
    },
  ];
  return {
    name: options.name ?? 'ledger',
    tools,
    async decide(state: SessionState): Promise<ModelDecision> {
      const input = readInput(state);
      const step = state.steps + 1;
      if (state.steps >= input.steps)
        return {
          kind: 'finish',
          output: { steps: state.steps, toolCalls: state.toolCallsCompleted },
        };
      const waited = state.lastWake?.afterSteps === state.steps;
      if (input.signalAfter > 0 && state.steps === input.signalAfter && !waited) {
        return { kind: 'wait', wait: { kind: 'signal', signal: 'continue' } };
      }
      const waitDue = input.waitEvery > 0 && state.steps > 0 && state.steps % input.waitEvery === 0;
      if (waitDue && !waited) {
        return {
          kind: 'wait',
          wait: { kind: 'timer', untilMs: (options.nowMs ?? Date.now)() + input.waitMs },
        };
      }
      const args: JsonObject = {
        entry: `step-${step}`,
        line: `step ${step}`,
        delayMs: input.toolDelayMs,
      };
      const tool = step % 2 === 0 ? 'work.append' : 'ledger.apply';
      return {
        kind: 'tool-calls',
        text: `step ${step}: calling ${tool}`,
        toolCalls: [{ tool, args }],
        usage: { inputTokens: 12, outputTokens: 8 },
      };
    },
  };
}

function asText(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? null);
}
