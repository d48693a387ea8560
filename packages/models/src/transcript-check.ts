import type { ModelMessage } from '@longrun/core';

/**
 * The transcript invariant of DESIGN §4, checked on whatever is about to be sent to a model:
 * every tool call has exactly one result, and that result comes before the next user or
 * assistant turn. A transcript that breaks it is what wedges a session (real providers answer
 * 400 to it), so the scripted model and the wire server check every request they receive.
 *
 * Providers shape transcripts differently (results in a `tool` message, in the next user message,
 * or as loose items), so each shape is first flattened to this sequence of steps.
 */
export type TranscriptStep =
  | { kind: 'turn'; role: 'user' | 'assistant' }
  | { kind: 'call'; id: string }
  | { kind: 'result'; id: string };

export type TranscriptViolationKind =
  'call-without-result' | 'result-without-call' | 'duplicate-result' | 'duplicate-call-id';

export interface TranscriptViolation {
  kind: TranscriptViolationKind;
  toolCallId: string;
  message: string;
}

/** Every breach of the invariant in one transcript, in order; empty when it holds. */
export function checkTranscript(steps: Iterable<TranscriptStep>): TranscriptViolation[] {
  const violations: TranscriptViolation[] = [];
  const seenCalls = new Set<string>();
  const resolved = new Set<string>();
  let open = new Set<string>();
  const closeTurn = (where: string): void => {
    for (const id of open) {
      violations.push({
        kind: 'call-without-result',
        toolCallId: id,
        message: `tool call ${id} has no result ${where}`,
      });
    }
    open = new Set();
  };
  for (const step of steps) {
    switch (step.kind) {
      case 'turn':
        closeTurn(`before the next ${step.role} turn`);
        break;
      case 'call':
        if (seenCalls.has(step.id)) {
          violations.push({
            kind: 'duplicate-call-id',
            toolCallId: step.id,
            message: `tool call id ${step.id} is used by more than one call`,
          });
        }
        seenCalls.add(step.id);
        open.add(step.id);
        break;
      case 'result':
        if (open.delete(step.id)) {
          resolved.add(step.id);
        } else if (resolved.has(step.id)) {
          violations.push({
            kind: 'duplicate-result',
            toolCallId: step.id,
            message: `tool call ${step.id} has more than one result`,
          });
        } else {
          violations.push({
            kind: 'result-without-call',
            toolCallId: step.id,
            message: `tool result ${step.id} answers no tool call of the turn before it`,
          });
        }
        break;
    }
  }
  closeTurn('at the end of the transcript (the model would be called with it open)');
  return violations;
}

/** Flattens longrun's own transcript form (the model port's messages). */
export function* stepsOfModelMessages(messages: ModelMessage[]): Generator<TranscriptStep> {
  for (const message of messages) {
    switch (message.role) {
      case 'system':
        break;
      case 'user':
        yield { kind: 'turn', role: 'user' };
        break;
      case 'assistant':
        yield { kind: 'turn', role: 'assistant' };
        for (const call of message.toolCalls) yield { kind: 'call', id: call.id };
        break;
      case 'tool':
        for (const result of message.results) yield { kind: 'result', id: result.id };
        break;
    }
  }
}
