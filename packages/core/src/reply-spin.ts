import { LongrunError } from './errors.ts';

/**
 * Keeps the event loop awake for a short while after a request to a store went out, so that its
 * reply is taken the moment it arrives. An event loop with nothing to do sleeps in the kernel
 * (epoll), and on a virtual machine waking it again costs about as much as a fast commit: in the
 * peer workload at one session on a warm SQLite store, a step took 0.69–0.82 ms with the loop
 * asleep between commits and 0.51–0.75 ms with it awake. So while a reply is awaited, and for at
 * most `budgetMs` after the latest request, the loop turns (a `setImmediate` chain, which makes
 * each turn poll without blocking) instead of sleeping: timers, I/O and other sessions run as
 * usual in those turns. A reply slower than the budget is awaited asleep, and once replies have
 * lately been slower than the budget (a slow disk, a remote server, a loaded machine) the loop is
 * not kept awake for them at all. A loop that has other work never spins (its turns are busy
 * anyway), and an idle store never does. The price is CPU: up to `budgetMs` of one core per
 * request, at a low rate of requests.
 */
export class ReplySpin {
  readonly #budgetMs: number;
  readonly #waiting: () => boolean;
  #untilMs = 0;
  #spinning = false;
  /** Recent answers' round trips, smoothed (ms); 0 until one is known. */
  #typicalMs = 0;

  /** `waiting`: whether a reply is still awaited. `budgetMs` 0 turns spinning off. */
  constructor(budgetMs: number, waiting: () => boolean) {
    this.#budgetMs = budgetMs;
    this.#waiting = waiting;
  }

  /**
   * A request just went out. The loop is kept awake only while answers have lately come within
   * the budget: on a slow disk, a loaded machine or a traced process, spinning would only take
   * CPU from the work it waits for.
   */
  sent(): void {
    if (this.#budgetMs <= 0 || this.#typicalMs > this.#budgetMs) return;
    this.#untilMs = performance.now() + this.#budgetMs;
    if (this.#spinning) return;
    this.#spinning = true;
    setImmediate(this.#turn);
  }

  /**
   * A reply came, `ms` after its request went out. Replies are weighed 1 in 8, so one slow
   * answer does not stop the spinning, and a run of them does; once answers are quick again
   * (while asleep, measured all the same), it starts again.
   */
  answered(ms: number): void {
    this.#typicalMs = this.#typicalMs === 0 ? ms : this.#typicalMs + (ms - this.#typicalMs) / 8;
  }

  /** Whether the loop is being kept awake now (for tests). */
  get spinning(): boolean {
    return this.#spinning;
  }

  #turn = (): void => {
    if (this.#waiting() && performance.now() < this.#untilMs) setImmediate(this.#turn);
    else this.#spinning = false;
  };
}

/** The default budget: a fast local commit's reply is taken awake; a slow one, asleep. */
export const defaultReplySpinMs = 1;

/**
 * The budget a store uses: its `replySpinMs` option if given, else `LONGRUN_REPLY_SPIN_MS`, else
 * 1. Milliseconds from 0 to 100; 0 turns spinning off, for a host where CPU matters more than a
 * step's latency. Anything else is refused with INVALID_ARGUMENT when the store opens.
 */
export function replySpinMs(
  option: number | undefined,
  env: NodeJS.ProcessEnv = process.env,
): number {
  const raw = env.LONGRUN_REPLY_SPIN_MS;
  const fromEnv = option === undefined && raw !== undefined && raw.trim() !== '';
  if (option === undefined && !fromEnv) return defaultReplySpinMs;
  const ms = fromEnv ? Number(raw) : option;
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > 100) {
    const what = fromEnv
      ? `LONGRUN_REPLY_SPIN_MS is ${JSON.stringify(raw)}`
      : `replySpinMs is ${String(option)}`;
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `${what}: give milliseconds from 0 to 100 (0 turns spinning off), or leave it unset for the default ${defaultReplySpinMs}`,
    );
  }
  return ms;
}
