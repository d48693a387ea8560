export { Worker, type WorkerOptions, type WorkerScheduleOptions } from './worker.ts';
export {
  ScheduleTicker,
  type ScheduleFired,
  type ScheduleTickerOptions,
} from './schedules/schedule-ticker.ts';
export { planFire, maxTicksPerPlan } from './schedules/fire-plan.ts';
export { parseCron, checkTimezone, nextTickAfter } from './schedules/cron-ticks.ts';
export {
  createSchedule,
  resumeSchedule,
  scheduleDefaults,
  type ScheduleRequest,
} from './schedules/schedule-commands.ts';
export {
  WorkerEvents,
  type WorkerEventMap,
  type WorkerEventName,
  type WorkerListener,
  type WorkerLogEntry,
} from './worker/worker-events.ts';
export { publishLive, type LiveSink } from './worker/live-subscriber.ts';
export { writeWorkerLog } from './worker/log-subscriber.ts';
export { saveCompileCache } from './worker/compile-cache.ts';
export { envSecrets } from './secrets/env-secrets.ts';
export {
  cachedServedSecrets,
  loadServedSecrets,
  type ServedSecrets,
} from './secrets/served-secrets.ts';
export { countWorkerFigures, type WorkerFigures } from './worker/figures-subscriber.ts';
export {
  openTraceExport,
  type TraceExport,
  type TraceExportOptions,
} from './worker/trace-subscriber.ts';
export { feedWorkerMetrics, type WorkerMetricsSink } from './worker/metrics-subscriber.ts';
export type { RunOutcome } from './run-outcome.ts';
export { LeaseKeeper, type LeaseKeeperOptions } from './lease-keeper.ts';
export { appendDurably } from './durable-append.ts';
export { loadState } from './load-state.ts';
export { backoffMs, pause } from './backoff.ts';
export { idempotencyKeyFor } from '@longrun/core';
export { normalizeTranscript } from './transcript.ts';
export { readCheckpoint, type ReadCheckpoint } from './harness/checkpoint.ts';
export {
  defineAgent,
  defineTool,
  toolSpecs,
  type AgentConfig,
  type AgentDefinition,
  type AgentFields,
  type AgentContextOptions,
  type AgentTool,
  type AgentToolContext,
  type PrepareStepInput,
  type PrepareStepResult,
} from './agent/define-agent.ts';
export { aiTool, effect, type AgentModel, type AiToolOptions } from '@longrun/models';
export {
  AgentRunner,
  cancelSignal,
  userMessageSignal,
  type AgentRunnerOptions,
} from './agent/agent-runner.ts';
export {
  approvalSignal,
  approvalSignalPrefix,
  argsHash,
  type ApprovalDecision,
} from './agent/approvals.ts';
export {
  pendingApprovals,
  PendingApprovalTracker,
  decideApproval,
  cancelSession,
  resumeSession,
  sendMessage,
  signalSession,
  deliverWebhook,
  type PendingApproval,
  type ApprovalDecisionRequest,
} from './agent/session-commands.ts';
export {
  argumentsShown,
  readWholeArguments,
  wholeArgumentsProblems,
  type ArgumentsShown,
  type WholeArguments,
  type WholeArgumentsProblem,
} from './agent/approval-arguments.ts';
export { resumeSignal, type ResumeRequest } from './session-resume.ts';
export {
  childSessionId,
  sessionFamily,
  subAgentsToolName,
  type SessionFamily,
  type SubAgentsConfig,
} from './agent/sub-agents.ts';
export { changeBudget, type BudgetChangeRequest } from './agent/budget-commands.ts';
export { budgetGate, budgetExceededCode } from './harness/budget-gate.ts';
export {
  TranscriptBuilder,
  summaryMessage,
  type CompactionCut,
  type TranscriptSnapshot,
} from './agent/transcript-builder.ts';
export { defaultSummaryInstructions } from './agent/context-compaction.ts';
export {
  allow,
  checkModelCall,
  checkToolCall,
  type Gate,
  type GateDecision,
  type ModelCallGate,
  type ToolCallGate,
} from './harness/gates.ts';
export {
  gateChain,
  maxModelAttemptsGate,
  maxStepsGate,
  needsApprovalGate,
} from './harness/limit-gates.ts';
export {
  defaultLoopControl,
  resolveLoopControl,
  type LoopControl,
  type LoopControlConfig,
} from './harness/loop-control.ts';
export { stuckLoopGate } from './harness/stuck-loop-gate.ts';
export { circuitBreakerGate } from './harness/circuit-breaker-gate.ts';
export { SessionWriter } from './session-writer.ts';
export {
  fileTools,
  readFileTool,
  writeFileTool,
  editFileTool,
  listFilesTool,
} from './tools/file-tools.ts';
export { shellTool, type ShellToolOptions } from './tools/shell-tool.ts';
export { waitTools, type WaitToolsOptions } from './tools/wait-tools.ts';
export { webhookTokenHash } from './call-waits.ts';
export { capOutput } from './tools/output-cap.ts';
export { forkSession, type ForkSessionOptions } from './session-fork.ts';
export {
  AgentWorkspace,
  WorkspaceTracker,
  copyIntoWorkspace,
  defaultSandboxLimits,
  type AgentSandboxConfig,
} from './agent/agent-workspace.ts';
export {
  sessionWorkspaceDiff,
  type SnapshotRef,
  type WorkspaceChange,
  type WorkspaceDiff,
  type WorkspaceDiffOptions,
} from './workspace-diff.ts';
export { defaultSandboxDriver, needsDefaultSandbox } from './agent/default-sandbox.ts';
export { LivePublisher } from './live/live-publisher.ts';
export { InProcessLiveChannel } from './live/in-process-live-channel.ts';
export { type OutcomeConfig, type OutcomeDefinition } from './agent/outcome.ts';
export { readVerdicts } from './agent/outcome-evaluator.ts';
export {
  sessionBundle,
  readAllEvents,
  bundleFormatVersion,
  toolInputEntry,
  type SessionBundleOptions,
} from './bundle/session-bundle.ts';
export { writeSessionBundle, readBundle, type BundleReadOptions } from './bundle/bundle-files.ts';
export { Redactor, secretsFromEnv } from './bundle/redactor.ts';
export { toolCallsCsv, toolCallsHeader } from './bundle/tool-calls-csv.ts';
export {
  ReplayClock,
  replaySession,
  type ReplayOptions,
  type ReplayResult,
} from './replay/replay-session.ts';
export { requestFingerprints, type RequestFingerprint } from './replay/request-fingerprints.ts';
export {
  comparableEvents,
  firstDivergence,
  type ComparedEvent,
  type Divergence,
} from './replay/replay-normalize.ts';
