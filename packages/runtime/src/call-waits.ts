import { createHash, randomBytes } from 'node:crypto';
import {
  LongrunError,
  event,
  isRuntimeSignal,
  subAgentSignal,
  webhookSignal,
  type CallWait,
  type LeaseFence,
  type NewEvent,
  type SessionStore,
  type SignalWaitResult,
  type StatusChange,
  type ToolContext,
  type ToolWebhook,
  type WaitSpec,
} from '@longrun/core';

/** The wait methods of a tool's context. */
export type WaitMethods = Pick<
  ToolContext,
  'sleep' | 'sleepUntil' | 'waitForSignal' | 'createWebhook'
> & { [subAgentWait]?: SubAgentWait };

/** The wait a call suspended on: what the harness records and parks the session with. */
export interface Suspension {
  events: NewEvent[];
  status: StatusChange;
}

export interface CallWaitsInput {
  store: SessionStore;
  fence: LeaseFence;
  step: number;
  callIndex: number;
  tool: string;
  /** The waits the call made in earlier runs (`OpenCall.waits`), replayed by ordinal. */
  recorded: readonly CallWait[];
  /** The API's public address, for webhook URLs; null: hooks have a path only. */
  webhookBaseUrl: string | null;
}

/**
 * Thrown from a wait method when the call suspends: the harness ignores what the tool does after
 * it (a tool that catches it is suspended anyway) and records the wait instead of a result.
 */
export class CallSuspended extends Error {
  override readonly name = 'CallSuspended';
}

/**
 * The wait of the built-in sub-agent tool for its children's signal (a name of the runtime's
 * own, which `waitForSignal` refuses): on the tool context of a call that may wait. `reason`
 * words the session's status while it waits; it is asked only when the wait is a new one.
 */
export const subAgentWait = Symbol('longrun.subAgentWait');
export type SubAgentWait = (
  timeoutMs: number,
  reason?: () => Promise<string>,
) => Promise<SignalWaitResult>;

/**
 * On the tool context of every run of a built-in tool: records events with the call's result, in
 * the same commit as its `tool.completed` (the sub-agent tool settles its budget hold so: a
 * crash can never settle it without the result, nor record the result without settling it).
 */
export const withCallResult = Symbol('longrun.withCallResult');
export type WithCallResult = (events: NewEvent[]) => void;

/** Waits of a signal's own: one waitId per (step, call, ordinal), unique in the session's log. */
export function callWaitId(step: number, callIndex: number, ordinal: number): string {
  return `w${step}_${callIndex}_${ordinal}`;
}

function hookIdFor(step: number, callIndex: number, ordinal: number): string {
  return `h${step}_${callIndex}_${ordinal}`;
}

/** SHA-256 of a webhook token, lowercase hex: all the store keeps of it. */
export function webhookTokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function checkDuration(what: string, ms: number | undefined): void {
  if (ms !== undefined && !(Number.isSafeInteger(ms) && ms >= 0)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `${what} must be whole milliseconds ≥ 0 (got ${ms})`,
    );
  }
}

/**
 * The durable waits of one run of one tool call (ToolContext.sleep, waitForSignal,
 * createWebhook): each gets the next ordinal; one the call made before returns its recorded
 * value at once, a new one records the suspension and throws CallSuspended. Made afresh for
 * every run of the call.
 */
export class CallWaits {
  readonly #o: CallWaitsInput;
  #ordinal = 0;
  #suspension: Suspension | null = null;

  constructor(input: CallWaitsInput) {
    this.#o = input;
  }

  /** Set once the call suspended on a new wait. */
  get suspension(): Suspension | null {
    return this.#suspension;
  }

  methods(): WaitMethods {
    return {
      sleep: async (ms) => {
        checkDuration('sleep(ms)', ms);
        await this.#wait('timer', async (now) => ({ kind: 'timer', untilMs: now + ms }));
      },
      sleepUntil: async (time) => {
        const untilMs = time instanceof Date ? time.getTime() : time;
        checkDuration('sleepUntil(time)', untilMs);
        await this.#wait('timer', async () => ({ kind: 'timer', untilMs }));
      },
      waitForSignal: async (name, options = {}) => {
        if (typeof name !== 'string' || name.length === 0 || name.length > 200) {
          throw new LongrunError('INVALID_ARGUMENT', 'a signal name is 1 to 200 characters');
        }
        if (isRuntimeSignal(name)) {
          throw new LongrunError(
            'INVALID_ARGUMENT',
            `signal ${JSON.stringify(name)} is the runtime's own (messages, cancel, resume, approvals, webhooks); wait for a name of your own`,
          );
        }
        checkDuration('timeoutMs', options.timeoutMs);
        return this.#signalWait(name, options.timeoutMs, null);
      },
      createWebhook: async (options = {}) => this.#createWebhook(options),
      [subAgentWait]: (timeoutMs: number, reason?: () => Promise<string>) =>
        this.#signalWait(subAgentSignal(this.#o.step, this.#o.callIndex), timeoutMs, null, reason),
    };
  }

  async #signalWait(
    signal: string,
    timeoutMs: number | undefined,
    deadlineMs: number | null,
    reason?: () => Promise<string>,
  ): Promise<SignalWaitResult> {
    const resolved = await this.#wait(
      'signal',
      async (now) => {
        const limits = [deadlineMs, timeoutMs === undefined ? null : now + timeoutMs];
        const untilMs = limits.reduce<number | null>(
          (a, b) => (a === null ? b : b === null ? a : Math.min(a, b)),
          null,
        );
        return { kind: 'signal', signal, ...(untilMs === null ? {} : { untilMs }) };
      },
      reason,
    );
    return resolved.signalId === null
      ? { timedOut: true }
      : { timedOut: false, signalId: resolved.signalId, payload: resolved.payload };
  }

  async #createWebhook(options: { timeoutMs?: number; multiUse?: boolean }): Promise<ToolWebhook> {
    checkDuration('timeoutMs', options.timeoutMs);
    const ordinal = this.#next();
    const { step, callIndex } = this.#o;
    const hookId = hookIdFor(step, callIndex, ordinal);
    const token = randomBytes(32).toString('base64url');
    const now = options.timeoutMs === undefined ? 0 : await this.#o.store.nowMs();
    const hook = await this.#o.store.webhooks.register(this.#o.fence, {
      hookId,
      tokenHash: webhookTokenHash(token),
      multiUse: options.multiUse === true,
      expiresAtMs: options.timeoutMs === undefined ? null : now + options.timeoutMs,
    });
    const path = `/v1/hooks/${token}`;
    const base = this.#o.webhookBaseUrl;
    return {
      id: hookId,
      token,
      path,
      url: base === null ? null : `${base.replace(/\/+$/, '')}${path}`,
      expiresAtMs: hook.expiresAtMs,
      multiUse: hook.multiUse,
      wait: async (waitOptions = {}) => {
        checkDuration('timeoutMs', waitOptions.timeoutMs);
        return this.#signalWait(webhookSignal(hookId), waitOptions.timeoutMs, hook.expiresAtMs);
      },
    };
  }

  #next(): number {
    if (this.#suspension !== null) {
      throw new CallSuspended(
        'the call is suspended on an earlier wait; waits are made one at a time',
      );
    }
    return this.#ordinal++;
  }

  /** The recorded value of the next ordinal's wait, or the suspension on a new one. */
  async #wait(
    kind: WaitSpec['kind'],
    spec: (nowMs: number) => Promise<WaitSpec>,
    reason?: () => Promise<string>,
  ): Promise<NonNullable<CallWait['resolved']>> {
    const ordinal = this.#next();
    const recorded = this.#o.recorded.find((w) => w.ordinal === ordinal);
    if (recorded !== undefined) {
      if (recorded.kind !== undefined && recorded.kind !== kind) {
        throw new LongrunError(
          'INVALID_STATE',
          `wait ${ordinal} of this call was a ${recorded.kind} wait when the call first ran and is a ${kind} wait now: a tool must make the same waits in the same order on every run`,
        );
      }
      if (recorded.resolved === null) {
        throw new LongrunError('INTERNAL', `wait ${recorded.waitId} runs before it resolved`);
      }
      return recorded.resolved;
    }
    const { step, callIndex, tool } = this.#o;
    const made = await spec(await this.#o.store.nowMs());
    const waitId = callWaitId(step, callIndex, ordinal);
    const started = event('wait.started', { waitId, ...made, call: { step, callIndex, ordinal } });
    const worded = reason === undefined ? null : await reason();
    this.#suspension = {
      events: [started],
      status:
        made.kind === 'timer'
          ? {
              status: 'waiting',
              wakeAtMs: made.untilMs,
              waitingFor: null,
              reason: `a ${tool} call sleeps until ${new Date(made.untilMs).toISOString()}`,
            }
          : {
              status: 'waiting',
              wakeAtMs: made.untilMs ?? null,
              waitingFor: made.signal,
              reason: worded ?? `a ${tool} call waits for signal ${made.signal}`,
            },
    };
    throw new CallSuspended(`call ${step}:${callIndex} suspended on wait ${waitId}`);
  }
}

/** The wait methods of a context that cannot wait (`verify`, an evaluator's tools). */
export const noWaits: WaitMethods = {
  sleep: refuseWait,
  sleepUntil: refuseWait,
  waitForSignal: refuseWait,
  createWebhook: refuseWait,
};

function refuseWait(): never {
  throw new LongrunError(
    'INVALID_STATE',
    "a tool cannot wait here (in verify, or as an evaluator's tool): waits are for a tool call's run, which can be suspended",
  );
}
