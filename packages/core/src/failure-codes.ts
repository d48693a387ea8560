import type { ErrorCode } from './errors.ts';

/**
 * Codes the harness records that are not errors a call throws: each names a way a model attempt
 * or a session ends, with the reason it exists. Together with the error codes (errors.ts) they are
 * the closed vocabulary of `model.failed.code` and `session.failed.code`.
 */
export const harnessFailureCodes = {
  /**
   * A model attempt whose worker stopped mid-call (crash, lost lease): its streamed text is
   * superseded and the call is made again. Not the model failing: it spends no retry budget.
   */
  WORKER_STOPPED: { ends: 'model attempt' },
  /** The agent took its `maxSteps` model turns (the maxSteps gate denied the next call). */
  STEP_LIMIT_REACHED: { ends: 'session' },
  /** A gate denied the next model call and named no code of its own. */
  GATE_DENIED: { ends: 'session' },
} as const satisfies Record<string, { ends: 'model attempt' | 'session' }>;

type HarnessCode<E extends 'model attempt' | 'session'> = {
  [C in keyof typeof harnessFailureCodes]: (typeof harnessFailureCodes)[C]['ends'] extends E
    ? C
    : never;
}[keyof typeof harnessFailureCodes];

/** Why a model attempt failed: the model client's error, or the worker stopping. */
export type ModelFailureCode = ErrorCode | HarnessCode<'model attempt'>;

/** Why a session failed: the model's last error, a limit, or a gate. */
export type SessionFailureCode = ErrorCode | HarnessCode<'session'>;

/** The codes by name, so code compares a constant, never a string typed twice. */
export const failureCode = {
  workerStopped: 'WORKER_STOPPED',
  stepLimitReached: 'STEP_LIMIT_REACHED',
  gateDenied: 'GATE_DENIED',
} as const satisfies Record<string, keyof typeof harnessFailureCodes>;
