import {
  LongrunError,
  type JsonValue,
  type ModelMessage,
  type ModelToolCall,
  type StoredEvent,
} from '@longrun/core';

/** The provider id of a call: the model's own, or one derived from its place in the log. */
export function callId(step: number, callIndex: number, id: string | undefined): string {
  return id ?? `call_${step}_${callIndex}`;
}

function taskText(input: JsonValue): string {
  if (typeof input === 'string') return input;
  if (
    input !== null &&
    typeof input === 'object' &&
    !Array.isArray(input) &&
    typeof input.task === 'string'
  ) {
    return input.task;
  }
  return JSON.stringify(input);
}

/**
 * What a checkpoint keeps of a transcript: the messages so far and the latest assistant turn's
 * open calls, plain JSON, so a resume folds only the events after the checkpoint into it.
 */
export interface TranscriptSnapshot {
  messages: ModelMessage[];
  /** The latest assistant turn's calls: call index, provider id, tool name, answered. */
  calls: { callIndex: number; id: string; name: string; answered: boolean }[];
  /** The tools the latest turn was offered, when fewer than all (see `model.responded`). */
  activeTools?: string[];
}

/**
 * Folds a session's log into the transcript a model call is given, one event at a time, so a
 * running session extends it instead of rebuilding it. Failed model attempts and their streamed
 * text are not in it: only responses that were recorded whole.
 */
export class TranscriptBuilder {
  #messages: ModelMessage[] = [];
  /** Ids of the latest assistant turn's calls, by call index. */
  #callIds = new Map<number, { id: string; name: string }>();
  #answered = new Set<number>();
  #activeTools: string[] | undefined;

  /** A builder that continues from a snapshot (a checkpoint's, or another builder's). */
  static from(snapshot: TranscriptSnapshot): TranscriptBuilder {
    const builder = new TranscriptBuilder();
    // A copy, not a spread into push: a spread of 150,000 messages overflows the stack (Node 24).
    builder.#messages = snapshot.messages.slice();
    builder.#callIds = new Map(
      snapshot.calls.map((c) => [c.callIndex, { id: c.id, name: c.name }]),
    );
    builder.#answered = new Set(snapshot.calls.filter((c) => c.answered).map((c) => c.callIndex));
    builder.#activeTools = snapshot.activeTools;
    return builder;
  }

  /**
   * The transcript so far, sharing its messages with this builder: messages are never changed
   * once pushed (a tool message that gains a result is replaced), so this costs one array copy.
   */
  snapshot(): TranscriptSnapshot {
    return {
      messages: this.#messages.slice(),
      calls: [...this.#callIds].map(([callIndex, c]) => ({
        callIndex,
        id: c.id,
        name: c.name,
        answered: this.#answered.has(callIndex),
      })),
      ...(this.#activeTools === undefined ? {} : { activeTools: this.#activeTools }),
    };
  }

  apply(event: StoredEvent): void {
    switch (event.type) {
      case 'session.created':
        this.#messages.push({ role: 'user', content: taskText(event.data.input) });
        return;
      case 'user.messaged':
        this.#messages.push({ role: 'user', content: event.data.text });
        return;
      case 'outcome.evaluated':
        // The evaluator's feedback is what the agent reads next, as a person's message would be.
        if (event.data.continues)
          this.#messages.push({ role: 'user', content: event.data.feedback });
        return;
      case 'model.responded': {
        const toolCalls: ModelToolCall[] = event.data.toolCalls.map((c) => ({
          id: callId(event.data.step, c.callIndex, c.id),
          name: c.tool,
          args: c.args,
        }));
        this.#callIds = new Map(
          event.data.toolCalls.map((c, i) => [
            c.callIndex,
            { id: toolCalls[i]?.id ?? '', name: c.tool },
          ]),
        );
        this.#answered = new Set();
        this.#activeTools = event.data.activeTools;
        // Reasoning and provider metadata go back to the model as they came (signatures,
        // encrypted reasoning): providers refuse a tool-using turn that lost them.
        const parts = event.data.parts;
        this.#messages.push({
          role: 'assistant',
          text: event.data.text,
          toolCalls,
          ...(parts === undefined ? {} : { parts }),
        });
        return;
      }
      case 'tool.completed':
        this.#result(event.data.callIndex, event.data.output, !event.data.ok);
        return;
      case 'tool.interrupted':
        this.#result(
          event.data.callIndex,
          'outcome unknown: the worker running this call stopped before it finished; it was not repeated',
          true,
        );
        return;
      default:
        return;
    }
  }

  /** Whether the latest assistant turn was offered `tool` (all tools, unless prepareStep chose). */
  offered(tool: string): boolean {
    return this.#activeTools === undefined || this.#activeTools.includes(tool);
  }

  /** Calls of the latest assistant turn that have no result yet. */
  orphans(): string[] {
    return [...this.#callIds.entries()]
      .filter(([index]) => !this.#answered.has(index))
      .map(([, c]) => c.id);
  }

  /** The transcript, with the agent's instructions first. Throws if a tool call has no result. */
  messages(instructions: string): ModelMessage[] {
    const orphans = this.orphans();
    if (orphans.length > 0) {
      throw new LongrunError(
        'INTERNAL',
        `tool calls ${orphans.join(', ')} have no result; a model call must not see them`,
      );
    }
    return [{ role: 'system', content: instructions }, ...this.#messages];
  }

  #result(callIndex: number, output: JsonValue, isError: boolean): void {
    const call = this.#callIds.get(callIndex);
    if (call === undefined || this.#answered.has(callIndex)) {
      throw new LongrunError(
        'INTERNAL',
        `a result for call ${callIndex}, which is not open in the transcript`,
      );
    }
    this.#answered.add(callIndex);
    const result = { id: call.id, name: call.name, output, isError };
    const last = this.#messages.at(-1);
    // Replaced, not changed in place: snapshots share the messages (see `snapshot`).
    if (last?.role === 'tool')
      this.#messages[this.#messages.length - 1] = {
        role: 'tool',
        results: [...last.results, result],
      };
    else this.#messages.push({ role: 'tool', results: [result] });
  }
}
