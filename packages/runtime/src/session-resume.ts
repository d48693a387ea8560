import {
  event,
  readSignal,
  signalNames,
  type JsonValue,
  type Signal,
  type SessionStore,
  type SignalPayloadByName,
} from '@longrun/core';
import type { SessionWriter } from './session-writer.ts';

/** The signal a person sends to resume a paused session (`resumeSession`). */
export const resumeSignal = signalNames.resume;

/**
 * A resume request: who asked, why, and the head of the log they saw the session paused at. The
 * head is what tells a resume from a late request (see `takeResumeRequests`).
 */
export type ResumeRequest = SignalPayloadByName['resume'];

/** The request as it is read from a signal's payload; null for anything else named `resume`. */
export function readResumeRequest(payload: JsonValue): ResumeRequest | null {
  return readSignal(resumeSignal, payload);
}

/**
 * Run by a runner right after its claim, before anything else it does. Of the pending resume
 * requests:
 * - those naming the log's head are this resume: the session was paused there and nothing has
 *   been appended since, so this claim is what the request asked for. `session.resumed` is
 *   recorded once, naming the latest of them (an earlier one's claim could not run the session,
 *   which the worker parked again at the same head), and all of them are consumed with it;
 * - those naming an older head came too late: the session had moved on (resumed by someone
 *   else, or cancelled) before they arrived. They are consumed without a record, so none lingers
 *   to be taken for a resume at a later claim. (A late request that woke a waiting session costs
 *   one claim: the runner consumes it here and parks the session on its wait again.)
 * A `resume` signal that is not a request (sent by hand with another payload) is not ours: it is
 * left alone. Returns whether `session.resumed` was recorded.
 */
export async function takeResumeRequests(
  store: SessionStore,
  writer: SessionWriter,
): Promise<boolean> {
  const pending = await store.pendingSignals(writer.lease.sessionId, resumeSignal);
  const requests = pending
    .map((signal) => ({ signal, request: readResumeRequest(signal.payload) }))
    .filter((r): r is { signal: Signal; request: ResumeRequest } => r.request !== null);
  if (requests.length === 0) return false;
  const head = writer.state.seq;
  const current = requests.filter((r) => r.request.pausedAtSeq === head).at(-1)?.request;
  const consumeSignals = requests.map((r) => r.signal.id);
  if (current === undefined) {
    await writer.append([], { consumeSignals });
    return false;
  }
  await writer.append([event('session.resumed', { by: current.by, reason: current.reason })], {
    consumeSignals,
  });
  return true;
}
