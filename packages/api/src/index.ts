export { createApi, type Api, type ApiOptions } from './create-api.ts';
export {
  serveApi,
  isLoopback,
  type PendingApi,
  type ServeOptions,
  type ServedApi,
} from './serve-api.ts';
export {
  defaultConnectionLimits,
  type ConnectionFigures,
  type ConnectionLimits,
} from './connection-gate.ts';
export { generateApiKey, authenticate, hashSecret, type GeneratedApiKey } from './api-keys.ts';
export { InProcessLiveDeltas, type LiveDelta, type LiveDeltaSource } from './live-deltas.ts';
export { feedApiFromLiveChannel, type LiveFeedOptions } from './live-feed.ts';
export { statusByCode } from './http-errors.ts';
export { waitingAnswer } from './waiting-api.ts';
export type { MetricsExposition } from './api-context.ts';
export type { ModelPrice } from './session-views.ts';
export type { SessionViewData as SessionView, ApprovalData as Approval } from './schemas.ts';
