import { hash } from 'node:crypto';
import { canonicalJson } from './request-hash.ts';
import { errorCodes } from './errors.ts';
import type { StoredEvent, ToolCall } from './events.ts';

/**
 * The bounds of the loop history, so a checkpoint stays the same size however long the session
 * runs (DESIGN §12). Loop control's windows are validated against them.
 */
export const loopHistoryLimits = {
  /** Latest tool calls kept: the longest `sameCall.within` an agent may set. */
  calls: 50,
  /** Latest runs of one tool kept: the longest `circuitBreaker.within`. */
  runsPerTool: 20,
  /** Tools whose runs are kept; past this the tool run least recently is forgotten. */
  tools: 32,
  /** Distinct recent tool results and workspace states kept, to tell a new one from a repeat. */
  seen: 64,
  /** Characters of a failed run's output kept as evidence. */
  errorChars: 200,
} as const;

/** One tool call that got its result, as loop control remembers it. */
export interface LoopCall {
  step: number;
  callIndex: number;
  /** Seq of its `tool.completed`. */
  seq: number;
  tool: string;
  /** `callHash(tool, args)`. */
  argsHash: string;
  ok: boolean;
  /**
   * Hash of the call (`argsHash`) and its output: a result is new when this call never had it.
   * The output alone would not do: a tool that acknowledges every call alike ("sent") would make
   * an agent sending eight different messages look stuck.
   */
  resultHash: string;
}

/**
 * One run of a tool (a call whose tool was started: `attempt` ≥ 1), for its error rate. A run
 * the tool refused with a typed error that trying again will not help (FILE_TYPE_REFUSED,
 * PATH_OUTSIDE_WORKSPACE, INVALID_ARGUMENT…) is not kept: like a call a gate refused, it is the
 * request that was wrong, not the tool that failed.
 */
export interface ToolRun {
  step: number;
  callIndex: number;
  seq: number;
  ok: boolean;
  /** A failed run's output, cut to `loopHistoryLimits.errorChars`. */
  error?: string;
}

/**
 * What loop control decides from (its gates are in the runtime's harness): a bounded window of
 * recent history, folded from the log like everything else a gate reads, so a worker that
 * resumes the session decides the same. Everything in it came after `sinceSeq`.
 */
export interface LoopHistory {
  /** Seq of the latest `session.resumed` (0: never resumed). A resume clears the windows. */
  sinceSeq: number;
  /** The latest tool calls with a result, oldest first (at most `loopHistoryLimits.calls`). */
  calls: LoopCall[];
  /**
   * Seq of the latest change of the world: a workspace state not seen recently, a person's
   * message, an evaluator's verdict, a resume. A call made again after it is not a repeat.
   */
  changedAtSeq: number;
  /** Model turns taken (`steps`) when the latest progress was made (see `foldLoopHistory`). */
  progressStep: number;
  /** Hashes of the recent distinct tool results and workspace states, most recently seen last. */
  seen: string[];
  /** Per tool, its latest runs, oldest first; the tool run most recently last. */
  tools: { tool: string; runs: ToolRun[] }[];
}

/** What folding the history needs of the state: the turn's calls and the model turns taken. */
export interface LoopFoldInput {
  steps: number;
  calls: readonly ToolCall[];
  loop?: LoopHistory;
}

/**
 * A call's identity: the first 16 hex digits of SHA-256 over the tool's name, a NUL and the
 * canonical JSON of its arguments (the prefix of the approval's `argsHash` of the same call).
 */
export function callHash(tool: string, args: unknown): string {
  if (args === null || typeof args !== 'object')
    return shortHash(`${tool}\0${canonicalJson(args)}`);
  // A call is hashed by the gate before it runs and again when its result is folded, with the
  // same arguments object: the second time is a lookup. It stays the hash of the arguments as the
  // log has them (what a worker resuming the session folds) even if a tool changed the object.
  const known = hashedCalls.get(args);
  if (known !== undefined && known.tool === tool) return known.hash;
  const computed = shortHash(`${tool}\0${canonicalJson(args)}`);
  hashedCalls.set(args, { tool, hash: computed });
  return computed;
}

const hashedCalls = new WeakMap<object, { tool: string; hash: string }>();

/**
 * A slice of the digest would be a V8 sliced string, which holds the whole digest and compares
 * several times slower than a flat one; `seen` and the gates' groups compare these at every tool
 * result. Parsing the 16 digits as a JSON string gives a flat copy (3.5 of 8.3 µs a fold saved).
 */
function shortHash(text: string): string {
  return JSON.parse(`"${hash('sha256', text, 'hex').slice(0, 16)}"`) as string;
}

function emptyHistory(state: LoopFoldInput, seq: number): LoopHistory {
  return {
    sinceSeq: 0,
    calls: [],
    changedAtSeq: seq,
    progressStep: state.steps,
    seen: [],
    tools: [],
  };
}

/** A workspace state not seen recently is progress; one seen again is not. */
function workspaceSeen(
  history: LoopHistory,
  stateHash: string,
  seq: number,
  steps: number,
): LoopHistory {
  if (history.seen.includes(stateHash)) return { ...history, seen: touch(history.seen, stateHash) };
  return {
    ...history,
    seen: touch(history.seen, stateHash),
    changedAtSeq: seq,
    progressStep: steps,
  };
}

/**
 * The loop history after `event`, given the state that event made (its fields other than `loop`).
 * Progress is a call that got a result it had not had recently (the same arguments and the same
 * output again are not), a workspace state not seen recently, a person's message, an evaluator's
 * verdict or a resume: none of these in N turns is a loop. Keys are kept
 * in arrays, never object keys, so a checkpoint read back from any store folds on the same.
 */
export function foldLoopHistory(state: LoopFoldInput, event: StoredEvent): LoopHistory | undefined {
  switch (event.type) {
    case 'tool.completed': {
      const history = state.loop ?? emptyHistory(state, 0);
      const { step, callIndex, tool, ok, output, attempt } = event.data;
      const args = state.calls.find((c) => c.callIndex === callIndex)?.args ?? {};
      const argsHash = callHash(tool, args);
      const resultHash = shortHash(`${argsHash}\0${canonicalJson(output)}`);
      const call = { step, callIndex, seq: event.seq, tool, argsHash, ok, resultHash };
      const isNew = !history.seen.includes(resultHash);
      let next: LoopHistory = {
        ...history,
        calls: appendBounded(history.calls, call, loopHistoryLimits.calls),
        seen: touch(history.seen, resultHash),
        progressStep: isNew ? state.steps : history.progressStep,
      };
      // Files the call changed, carried in its result: the same edits again are no progress.
      const edits = event.data.workspaceEdits;
      if (edits !== undefined && edits.length > 0) {
        const stateHash = `workspace:edits:${shortHash(canonicalJson(edits))}`;
        next = workspaceSeen(next, stateHash, event.seq, state.steps);
      }
      if (attempt < 1 || isRefusal(event.data.errorCode)) return next;
      const run: ToolRun = { step, callIndex, seq: event.seq, ok };
      if (!ok) run.error = errorText(output);
      return { ...next, tools: addRun(next.tools, tool, run) };
    }
    case 'workspace.snapshotted': {
      const history = state.loop ?? emptyHistory(state, 0);
      const stateHash = `workspace:${event.data.manifestHash}`;
      return workspaceSeen(history, stateHash, event.seq, state.steps);
    }
    case 'user.messaged':
    case 'outcome.evaluated': {
      const history = state.loop ?? emptyHistory(state, event.seq);
      return { ...history, changedAtSeq: event.seq, progressStep: state.steps };
    }
    case 'session.resumed':
      return {
        ...(state.loop ?? emptyHistory(state, event.seq)),
        sinceSeq: event.seq,
        calls: [],
        tools: [],
        changedAtSeq: event.seq,
        progressStep: state.steps,
      };
    default:
      return state.loop;
  }
}

/**
 * A new array: `items` then `item`, the oldest dropped to keep at most `max`. One copy, as the
 * history is folded at every tool result and its windows are tens of entries long.
 */
function appendBounded<T>(items: readonly T[], item: T, max: number): T[] {
  // Sized once: a slice then a push would copy the kept entries twice.
  const from = Math.max(0, items.length + 1 - max);
  const next = new Array<T>(items.length - from + 1);
  for (let i = from; i < items.length; i++) next[i - from] = items[i] as T;
  next[items.length - from] = item;
  return next;
}

/** `seen` with `entry` as its most recent entry, the oldest dropped past the bound. */
function touch(seen: readonly string[], entry: string): string[] {
  const at = seen.indexOf(entry);
  return at === -1
    ? appendBounded(seen, entry, loopHistoryLimits.seen)
    : movedLast(seen, at, entry);
}

/** A new array: `items` without the one at `at`, then `item` (the same size). */
function movedLast<T>(items: readonly T[], at: number, item: T): T[] {
  const next = new Array<T>(items.length);
  for (let i = 0, to = 0; i < items.length; i++) if (i !== at) next[to++] = items[i] as T;
  next[items.length - 1] = item;
  return next;
}

function addRun(tools: LoopHistory['tools'], tool: string, run: ToolRun): LoopHistory['tools'] {
  const at = tools.findIndex((t) => t.tool === tool);
  const runs = at === -1 ? [] : (tools[at] as LoopHistory['tools'][number]).runs;
  const entry = { tool, runs: appendBounded(runs, run, loopHistoryLimits.runsPerTool) };
  return at === -1
    ? appendBounded(tools, entry, loopHistoryLimits.tools)
    : movedLast(tools, at, entry);
}

function isRefusal(code: string | undefined): boolean {
  if (code === undefined || !Object.hasOwn(errorCodes, code)) return false;
  return !errorCodes[code as keyof typeof errorCodes].retryable;
}

function errorText(output: unknown): string {
  const text = typeof output === 'string' ? output : canonicalJson(output);
  const max = loopHistoryLimits.errorChars;
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
