/**
 * The agent the Postgres fault suites run, in `longrun worker` processes (through
 * fault-agent-module.ts) and in the test's own library worker alike. Its model is scripted: a
 * session's input `{ name, steps }` fixes every turn, so any worker answers the same. Its tools are
 * a keyed one (`charge`, a FileLedger), an unsafe one without verify (`send_email`) and an unsafe
 * one with verify (`transfer`, its own FileLedger). Each records, under `dir` — outside longrun —
 * what it did and when (records.ts reads these):
 *   windows.log   `start|end` of each tool run: session, step, call index, attempt, tool, pid,
 *                 CLOCK_MONOTONIC ns (process.hrtime.bigint(), comparable across processes on one
 *                 host) and wall ms; `end` adds how it ended (ok, aborted);
 *   unsafe.log    one line per run of `send_email`, written before it waits;
 *   verify.log    one line per verify of `transfer`, with its verdict;
 *   requests.log  one line per model request: session name, step, pid, wall ms.
 * After its effect a tool holds for a time drawn from its idempotency key (so a fault can land
 * mid-tool) and stops at once when its abort signal fires, as the runtime asks of tools.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { z } from 'zod';
import type { JsonObject, ModelClient, ModelMessage } from '@longrun/core';
import { defineAgent, defineTool, type AgentDefinition } from '@longrun/runtime';
import type { AgentToolContext } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { FileLedger } from '../ledger/file-ledger.ts';

export const faultAgentName = 'pg-fault-agent';

export const faultTools = { keyed: 'charge', unsafe: 'send_email', verified: 'transfer' } as const;

export interface FaultAgentOptions {
  /** Where the tools write what they did. */
  dir: string;
  /** Range of a tool's hold after its effect, ms. */
  toolMinMs: number;
  toolMaxMs: number;
  /** Pause before each 8-character text delta, ms. */
  chunkDelayMs: number;
}

/** What a session is asked to do; the first user message is this, as JSON. */
export interface FaultSessionInput {
  [key: string]: string | number;
  name: string;
  /** Model turns; the last answers with text only and completes the session. */
  steps: number;
}

/** The calls of model step `step` (1-based) of a session of `steps` steps. */
export function scriptedCalls(step: number, steps: number): { name: string; args: JsonObject }[] {
  if (step >= steps) return [];
  const calls: { name: string; args: JsonObject }[] = [];
  if (step % 3 === 1) calls.push({ name: faultTools.keyed, args: { amount: step } });
  if (step % 3 === 2) calls.push({ name: faultTools.unsafe, args: { to: `s${step}@example.com` } });
  if (step % 3 === 0) calls.push({ name: faultTools.verified, args: { amount: step } });
  if (step % 4 === 0) calls.push({ name: faultTools.keyed, args: { amount: 1000 + step } });
  return calls;
}

/** The ledger entry a keyed call applies. */
export function chargeEntry(amount: number): string {
  return `charge ${amount}`;
}

export function stepOf(messages: readonly ModelMessage[]): number {
  return messages.filter((m) => m.role === 'assistant').length + 1;
}

function inputOf(messages: readonly ModelMessage[]): FaultSessionInput {
  const first = messages.find((m) => m.role === 'user');
  return JSON.parse(first?.content ?? '{}') as FaultSessionInput;
}

/** A whole number of ms in [min, max], fixed by the key: the same call holds as long anywhere. */
function holdMsFor(key: string, attempt: number, min: number, max: number): number {
  const hash = createHash('sha256').update(`${key}#${attempt}`).digest();
  return min + (hash.readUInt32BE(0) % (max - min + 1));
}

/** Resolves after `ms`; rejects as soon as `signal` aborts. */
function hold(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export function faultAgent(options: FaultAgentOptions): AgentDefinition {
  const { dir } = options;
  mkdirSync(dir, { recursive: true });
  const ledger = new FileLedger(join(dir, 'ledger'));
  const transfers = new FileLedger(join(dir, 'transfers'));
  const line = (file: string, fields: (string | number | bigint)[]): void =>
    appendFileSync(join(dir, file), `${fields.join('\t')}\n`);

  /** Runs `effect` inside a recorded window, then holds (abortably) before returning. */
  async function inWindow<T>(tool: string, c: AgentToolContext, effect: () => T): Promise<T> {
    const id = [c.sessionId, c.step, c.callIndex, c.attempt, tool, process.pid];
    line('windows.log', ['start', ...id, process.hrtime.bigint(), Date.now()]);
    let how = 'aborted';
    try {
      // A well-behaved tool asks before each external step whether it still holds the session.
      if (!c.holding()) throw new Error('the worker no longer holds this session');
      const result = effect();
      const ms = holdMsFor(c.idempotencyKey, c.attempt, options.toolMinMs, options.toolMaxMs);
      await hold(ms, c.signal);
      if (!c.holding()) throw new Error('the worker no longer holds this session');
      how = 'ok';
      return result;
    } finally {
      line('windows.log', ['end', ...id, process.hrtime.bigint(), Date.now(), how]);
    }
  }

  const tools = [
    defineTool({
      name: faultTools.keyed,
      description: 'charges an amount through a payment API that honours idempotency keys',
      input: z.object({ amount: z.number() }),
      effect: 'keyed',
      run: ({ amount }, c) =>
        inWindow(faultTools.keyed, c, () => ({
          charged: amount,
          appliedNow: ledger.apply(c.idempotencyKey, chargeEntry(amount)),
        })),
    }),
    defineTool({
      name: faultTools.unsafe,
      description: 'sends an email (no way to tell afterwards whether it went out)',
      input: z.object({ to: z.string() }),
      effect: 'unsafe',
      run: ({ to }, c) =>
        inWindow(faultTools.unsafe, c, () => {
          line('unsafe.log', [c.idempotencyKey, process.pid, c.attempt]);
          return { sent: to };
        }),
    }),
    defineTool({
      name: faultTools.verified,
      description: 'transfers money; the bank can be asked afterwards whether it happened',
      input: z.object({ amount: z.number() }),
      effect: 'unsafe',
      run: ({ amount }, c) =>
        inWindow(faultTools.verified, c, () => {
          transfers.apply(c.idempotencyKey, `transfer ${amount}`);
          return { transferred: amount };
        }),
      verify({ amount }, c) {
        const done = transfers.applied().some((a) => a.key === c.idempotencyKey);
        line('verify.log', [c.idempotencyKey, process.pid, String(done)]);
        return Promise.resolve(
          done ? { applied: true, output: { transferred: amount } } : { applied: false },
        );
      },
    }),
  ];

  const model: ModelClient = {
    id: 'scripted:pg-faults',
    stream(request, onTextDelta) {
      const step = stepOf(request.messages);
      const input = inputOf(request.messages);
      line('requests.log', [input.name, step, process.pid, Date.now()]);
      const text = `${input.name} step ${step}: ${'lorem ipsum '.repeat(3)}`.slice(0, 40);
      const calls = scriptedCalls(step, input.steps);
      // A fresh scripted model per call: it checks the transcript (every call answered) like a
      // provider would, and keeps no history, so a long soak does not grow the worker's memory.
      const turn = {
        text,
        toolCalls: calls.map((c, i) => ({ id: `s${step}c${i}`, name: c.name, args: c.args })),
      };
      const once = scriptedModel([turn], {
        id: 'scripted:pg-faults',
        chunkSize: 8,
        chunkDelayMs: options.chunkDelayMs,
      });
      return once.stream(request, onTextDelta);
    },
  };

  return defineAgent({
    name: faultAgentName,
    model,
    instructions: 'You are the Postgres fault-test agent. Follow the script.',
    tools,
    maxSteps: 1_000,
    workspaceRoot: join(dir, 'workspaces'),
    // An interrupted unsafe call is settled without a person: verify, or recorded as unknown.
    unknownOutcome: 'fail',
  });
}
