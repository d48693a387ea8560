export { longrunClient, type LongrunClientOptions } from './longrun-client.ts';
export {
  SessionEndedError,
  type DecisionOptions,
  type EventsOptions,
  type LongrunClient,
  type SessionHandle,
  type SessionInfo,
  type StartInput,
  type StartOptions,
} from './client-types.ts';
export type { HttpTransportOptions } from './http-transport.ts';
export type { StoreTransportOptions } from './store-transport.ts';
export type { ScheduleClient, ScheduleList, ScheduleOptions } from './schedule-client.ts';
