export { Worker, type WorkerOptions, type WorkerLog } from './worker.ts';
export {
  SessionRunner,
  type RunnerHooks,
  type RunOutcome,
  type SessionRunnerOptions,
} from './session-runner.ts';
export { LeaseKeeper, type LeaseKeeperOptions } from './lease-keeper.ts';
export { appendDurably } from './durable-append.ts';
export { loadState } from './load-state.ts';
export { backoffMs, pause } from './backoff.ts';
export {
  idempotencyKeyFor,
  type ModelDecision,
  type StepProgram,
  type ToolContext,
  type ToolDefinition,
  type VerifyOutcome,
} from './program.ts';
export { FileLedger } from './sample/file-ledger.ts';
export {
  ledgerProgram,
  type LedgerProgramOptions,
  type LedgerRunInput,
} from './sample/ledger-program.ts';
export { normalizeTranscript } from './transcript.ts';
