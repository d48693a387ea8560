import type { EffectClass } from '../events.ts';
import type { SessionId } from '../ids.ts';
import type { JsonObject, JsonValue } from '../json.ts';
import type { Sandbox } from './sandbox.ts';
import type { WorkspaceFiles } from './workspace-files.ts';

/** What a tool's `run` and `verify` get besides the validated input. */
export interface ToolContext {
  sessionId: SessionId;
  step: number;
  callIndex: number;
  /**
   * Derived from (session, step, call index): the same on every attempt of this call, so a
   * `keyed` tool hands it to the system it changes and that system applies the call once.
   */
  idempotencyKey: string;
  /** 1 on the first run; more when a resumed step runs the call again. */
  attempt: number;
  /** Aborted when the worker loses its lease or stops: stop side effects promptly. */
  signal: AbortSignal;
  /**
   * Whether this worker still holds the session by its own clocks (its lease and its liveness),
   * checked now. It turns false the moment either has lapsed — also before `signal` aborts. A
   * tool with several external steps checks it before each one and stops when it is false.
   */
  holding(): boolean;
  /**
   * The session's workspace files: the only way a tool touches them (DESIGN §6). No link is
   * followed, only regular files and directories are opened, writes replace by rename and reads
   * are size-checked first; the host path is deliberately not given.
   */
  files: WorkspaceFiles;
  /** The session's sandbox (the agent's `sandbox` driver), opened on first use. */
  sandbox(): Promise<Sandbox>;
  /**
   * Durable waits (DESIGN §12). A wait the call has not made before suspends the call: the wait
   * is recorded, the worker lets the session go (it holds no worker while it waits, and survives
   * any restart), and when the wait resolves the call runs again FROM ITS START, each wait it
   * already made returning its recorded value at once, by its ordinal (the order the code makes
   * them in). So, as in Temporal or Restate: the code must make the same waits in the same order
   * on every run, and what it does before a wait runs again — make that idempotent or keyed
   * (`idempotencyKey`). Waits are made one at a time; in `verify` they throw INVALID_STATE.
   */
  sleep(ms: number): Promise<void>;
  /** Like `sleep`, until a time (a Date, or epoch milliseconds by the store's clock). */
  sleepUntil(time: Date | number): Promise<void>;
  /**
   * Waits for the session's signal `name` (`POST /v1/sessions/{id}/signals/{name}`), for
   * `timeoutMs` at most (default: no limit). A signal sent before the wait began is delivered to
   * it; each signal is delivered once. Names the runtime uses itself are refused.
   */
  waitForSignal(name: string, options?: { timeoutMs?: number }): Promise<SignalWaitResult>;
  /**
   * Makes a webhook: a URL with an unguessable token that anyone may POST a JSON body to
   * (`POST /v1/hooks/{token}`, no API key), delivered to this call's `hook.wait()`. Single use
   * unless `multiUse`; it expires after `timeoutMs` (default: never). Creating it is itself one
   * of the call's ordinals; a re-run of the call gets the same hook with a fresh token (every
   * token of a hook delivers to it, so a URL handed out by an earlier run still works).
   */
  createWebhook(options?: { timeoutMs?: number; multiUse?: boolean }): Promise<ToolWebhook>;
  /**
   * A credential by name from the worker's secret store (`WorkerOptions.secrets`), when the
   * session's policy gives it the scope (its `secrets` globs; every layer must): the decision is
   * recorded (`policy.decided` with `secret`) with the call's result. PERMISSION_DENIED when the
   * policy does not, NOT_FOUND when the store has no such secret or the worker has no store. The
   * value is for the tool's own code (a header, a client): it is replaced by `[secret:<name>]`,
   * in its common encodings too, in this and every later tool output of the session before
   * anything is recorded, so neither the log nor the model sees it.
   */
  secret(name: string): Promise<string>;
}

/** What a wait for a signal ended with: the signal's payload, or its timeout. */
export type SignalWaitResult =
  { timedOut: false; signalId: string; payload: JsonValue } | { timedOut: true };

/** A webhook made by `ToolContext.createWebhook`. */
export interface ToolWebhook {
  /** The hook's id, the same on every run of the call. */
  readonly id: string;
  /** The secret part of the URL (≥ 128 random bits); the store keeps only its hash. */
  readonly token: string;
  /** `/v1/hooks/{token}`: the path under the API's address. */
  readonly path: string;
  /** The whole URL, when the agent knows the API's public address (`webhookBaseUrl`); else null. */
  readonly url: string | null;
  /** When the hook stops accepting deliveries (epoch ms, the store's clock); null: never. */
  readonly expiresAtMs: number | null;
  readonly multiUse: boolean;
  /**
   * Waits (durably, like `waitForSignal`) for the hook's next delivery, until the hook expires
   * or `timeoutMs`, whichever is first. A delivery that arrived before the wait began is taken.
   */
  wait(options?: { timeoutMs?: number }): Promise<SignalWaitResult>;
}

/** What `verify` found about an interrupted call: it took effect (with its output), or not, or unknown. */
export type VerifyOutcome =
  { applied: true; output: JsonValue } | { applied: false } | { applied: 'unknown' };

/**
 * A tool's input validator. Core holds no schema library: an adapter builds this from zod, an
 * AI SDK `Schema`, or anything else that can validate and describe itself as JSON Schema.
 */
export interface ToolInputSchema<Input> {
  /**
   * Returns the validated (and possibly transformed) input, or throws. A LongrunError with code
   * INVALID_ARGUMENT carries a message written for the model, which sees it as the call's error
   * result and can correct its arguments.
   */
  parse(input: unknown): Input | PromiseLike<Input>;
  /** JSON Schema of the input object, as sent to the model. */
  readonly jsonSchema: JsonObject;
}

/** A `needsApproval` rule; declared with method syntax so a `Tool<X>` is a `Tool` in a list. */
interface ApprovalRule<Input> {
  rule(input: Input): boolean;
}

/** What one call touches, for the policy: workspace paths it reads and writes, hosts it reaches. */
export interface ToolTouches {
  reads?: readonly string[];
  writes?: readonly string[];
  hosts?: readonly string[];
  /** Sub-agents the call starts. */
  subAgents?: readonly string[];
}

interface TouchesRule<Input> {
  rule(input: Input): ToolTouches;
}

/**
 * The one tool type of longrun (DESIGN §11). Built-in tools, `defineTool` tools and AI SDK
 * `tool({...})` definitions all become this; the harness runs nothing else.
 */
export interface Tool<Input = unknown> {
  /** What the model calls it: `^[a-zA-Z][a-zA-Z0-9_-]{0,63}$`, what model APIs accept. */
  readonly name: string;
  readonly description: string;
  /** Validates the model's arguments before `run`; invalid ones become a tool error the model sees. */
  readonly input: ToolInputSchema<Input>;
  /** What a call does to the world, which decides what a resumed step may do with it (DESIGN §4). */
  readonly effect: EffectClass;
  run(input: Input, context: ToolContext): Promise<JsonValue>;
  /** For `unsafe` tools: tells whether an interrupted call took effect, so it is not repeated blindly. */
  verify?(input: Input, context: ToolContext): Promise<VerifyOutcome>;
  /** A person must approve each call (bound to its exact arguments) before it runs. */
  readonly needsApproval?: boolean | ApprovalRule<Input>['rule'];
  /**
   * The workspace paths a call with this input reads and writes and the hosts it reaches, which
   * the session's policy checks against its path and host rules before the call runs (the
   * built-in file tools declare their `path`). A tool without it is checked by its tool rules only.
   */
  readonly touches?: TouchesRule<Input>['rule'];
  /**
   * The tool runs commands through `context.sandbox()`. An agent with such a tool and no
   * `sandbox` of its own gets the default isolating driver, and refuses to start without one.
   */
  readonly usesSandbox?: boolean;
}

/** The pattern a tool name must match (what model APIs accept). */
export const toolNamePattern = /^[a-zA-Z][a-zA-Z0-9_-]{0,63}$/;

/**
 * The effect classes, from the call a resumed step may repeat freely to the one it must never
 * repeat blindly (DESIGN §4).
 */
export const effectClasses: readonly EffectClass[] = ['pure', 'idempotent', 'keyed', 'unsafe'];

/** True when `value` has the shape of a longrun `Tool` (it is checked field by field). */
export function isTool(value: unknown): value is Tool {
  return toolProblem(value) === null;
}

/**
 * What keeps `value` from being a longrun `Tool`, as words for an error message (the first field
 * missing or malformed), or null when it is one.
 */
export function toolProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null)
    return `it is ${value === null ? 'null' : `a ${typeof value}`}, not an object`;
  const t = value as Partial<Record<keyof Tool, unknown>>;
  if (typeof t.name !== 'string') return 'it has no name';
  if (typeof t.run !== 'function') return 'it has no run function';
  if (t.effect === undefined) return `it has no effect (one of ${effectClasses.join(', ')})`;
  if (!effectClasses.includes(t.effect as EffectClass))
    return `its effect ${JSON.stringify(t.effect)} is not one of ${effectClasses.join(', ')}`;
  const input = t.input as Partial<Record<keyof ToolInputSchema<unknown>, unknown>> | undefined;
  if (typeof input !== 'object' || input === null || typeof input.parse !== 'function')
    return 'its input is no input schema (one with a parse function, as defineTool makes)';
  return null;
}
