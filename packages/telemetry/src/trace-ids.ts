import { createHash } from 'node:crypto';

/**
 * Trace and span ids derived from the log, never drawn at random: the same log gives the same ids
 * in every process, so a replacement worker, a replay or a second exporter can never make a
 * second copy of a span — at worst the same span again, which a backend recognises by its id.
 *
 * - a trace per tree of sessions: from the root session's id (a sub-agent's session is in its
 *   root's trace);
 * - a span from its session's id and a key that names what opened it: the seq of its opening
 *   event (`turn:<seq>`, `chat:<seq>`, `wait:<seq>`), or for a tool call its (step, call index)
 *   (`tool:<step>:<callIndex>`), which a child session can name without reading its parent's log.
 */
export function traceIdFor(rootSessionId: string): string {
  return hexOf(`longrun-trace\u0000${rootSessionId}`, 32);
}

export function spanIdFor(sessionId: string, key: string): string {
  return hexOf(`longrun-span\u0000${sessionId}\u0000${key}`, 16);
}

/** The span of tool call (step, callIndex) of a session: a sub-agent's parent span. */
export function toolSpanIdFor(sessionId: string, step: number, callIndex: number): string {
  return spanIdFor(sessionId, `tool:${step}:${callIndex}`);
}

function hexOf(text: string, chars: number): string {
  const hex = createHash('sha256').update(text).digest('hex').slice(0, chars);
  // An all-zero id is invalid in OpenTelemetry; a sha256 prefix of zeros is not worth a branch
  // in practice, but the id must be valid whatever the input.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}
