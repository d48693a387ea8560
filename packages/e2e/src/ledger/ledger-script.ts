/**
 * What the ledger agent's model answers, as a pure function of the transcript it is given: the
 * run's input (the first user message, JSON) and how many turns it already took (its assistant
 * messages). Every worker that resumes a session therefore answers exactly as the one before.
 */
import { LongrunError, type JsonObject, type ModelMessage } from '@longrun/core';
import type { ScriptedTurn } from '@longrun/models/testing';

/** A session's input: the task message the model reads. */
export interface LedgerRunInput {
  /** Tool-calling model turns before the run finishes (one more turn answers with text). */
  steps: number;
  /** Simulated latency of each tool call, milliseconds (0 for benchmarks). */
  toolDelayMs?: number;
}

export const ledgerToolNames = { keyed: 'ledger_apply', idempotent: 'work_append' } as const;

/**
 * Which tools the steps call: `alternate` (odd steps the keyed ledger, even steps the work file),
 * or `append` (every step the work file: the peers' one-file-append workload, for benches).
 */
export type LedgerCalls = 'alternate' | 'append';

/** The entry the keyed call of `step` applies to the ledger. */
export function ledgerEntry(step: number): string {
  return `step-${step}`;
}

export interface LedgerRecord {
  key: string;
  entry: string;
}

/**
 * What the ledger holds after `alternate` sessions of `steps` steps each: every odd step's entry,
 * applied once, under the idempotency key of its call (`<session>:<step>:0`), sorted by key.
 */
export function expectedLedger(sessionIds: readonly string[], steps: number): LedgerRecord[] {
  const records: LedgerRecord[] = [];
  for (const id of sessionIds)
    for (let step = 1; step <= steps; step += 2)
      records.push({ key: `${id}:${step}:0`, entry: ledgerEntry(step) });
  return sortedByKey(records);
}

export function sortedByKey(records: readonly LedgerRecord[]): LedgerRecord[] {
  return records.slice().sort((a, b) => a.key.localeCompare(b.key));
}

/** The model turn for `messages`: one tool call per step, then a closing text. */
export function ledgerTurn(messages: readonly ModelMessage[], calls: LedgerCalls): ScriptedTurn {
  const input = runInput(messages);
  const step = messages.filter((m) => m.role === 'assistant').length + 1;
  // Fixed usage: the estimate of the scripted model grows with the transcript.
  const usage = { inputTokens: 12, outputTokens: 8 };
  if (step > input.steps) return { text: `done after ${input.steps} steps`, usage };
  const delayMs = input.toolDelayMs ?? 0;
  const keyed = calls === 'alternate' && step % 2 === 1;
  const call: { name: string; args: JsonObject } = keyed
    ? { name: ledgerToolNames.keyed, args: { entry: ledgerEntry(step), delayMs } }
    : { name: ledgerToolNames.idempotent, args: { line: `step ${step}`, delayMs } };
  // The call id is the step's: the scripted model's default counts calls to this process's model.
  return {
    text: `step ${step}: calling ${call.name}`,
    toolCalls: [{ id: `step-${step}`, ...call }],
    usage,
  };
}

function runInput(messages: readonly ModelMessage[]): LedgerRunInput {
  const task = messages.find((m) => m.role === 'user');
  let parsed: unknown = null;
  try {
    parsed = task === undefined ? null : JSON.parse(task.content);
  } catch {
    // Not JSON: refused below like any other input without a step count.
  }
  const steps = (parsed as Partial<LedgerRunInput> | null)?.steps;
  if (typeof steps !== 'number' || !Number.isSafeInteger(steps) || steps < 0) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `a ledger session's input is { steps: <non-negative integer>, toolDelayMs?: <ms> }; got ${task?.content ?? 'no task'}`,
    );
  }
  return parsed as LedgerRunInput;
}
