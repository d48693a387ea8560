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

export function taskText(input: JsonValue): string {
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
  /**
   * Per message, the seq of the event that added it (a compaction's summary: the compaction's).
   * Absent in checkpoints written before compaction (format 5 and older).
   */
  seqs?: number[];
  /** Per message, its length as JSON (characters): what the token estimate counts. */
  sizes?: number[];
  /** Where the transcript starts: the seq of the latest `context.compacted`, or 0. */
  startSeq?: number;
  /**
   * The provider's count of the transcript at the latest response (its input plus output
   * tokens), and the transcript's characters then: the estimate adds what came after at four
   * characters a token.
   */
  lastUsage?: { tokens: number; chars: number } | null;
}

/** Where a compaction cuts the transcript: the first `messages` are replaced. */
export interface CompactionCut {
  messages: number;
  fromSeq: number;
  throughSeq: number;
}

/** The user message that stands for the part of a transcript a compaction replaced. */
export function summaryMessage(data: {
  fromSeq: number;
  throughSeq: number;
  summary: string;
  handoff?: { file: string } | undefined;
}): ModelMessage {
  if (data.handoff !== undefined)
    return {
      role: 'user',
      content: `[Your context was reset to keep it within the window: events ${data.fromSeq}–${data.throughSeq} are no longer shown. Continue from the task and your progress file, ${data.handoff.file}, as you left it:]\n\n${data.summary}`,
    };
  return {
    role: 'user',
    content: `[The earlier part of this session (events ${data.fromSeq}–${data.throughSeq}) was compacted to fit the context window. Its summary:]\n\n${data.summary}`,
  };
}

/** A message's length as JSON, the unit of the token estimate (four characters a token). */
function sizeOf(value: unknown): number {
  return JSON.stringify(value).length;
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
  /** Parallel to #messages: the seq that added each, and its size as JSON. */
  #seqs: number[] = [];
  #sizes: number[] = [];
  #chars = 0;
  #startSeq = 0;
  #lastSeq = 0;
  #lastUsage: { tokens: number; chars: number } | null = null;

  /**
   * A builder that continues from a snapshot (a checkpoint's, or another builder's), whose arrays
   * it takes as its own: give it one nothing else holds (`snapshot()` gives copies), so that a
   * resume does not copy the transcript once more. A snapshot without seqs (written before
   * compaction) dates every message at `atSeq`, the seq it was taken at: a later compaction's
   * range then starts no later than it should.
   */
  static from(snapshot: TranscriptSnapshot, atSeq = 0): TranscriptBuilder {
    const builder = new TranscriptBuilder();
    builder.#messages = snapshot.messages;
    const n = snapshot.messages.length;
    builder.#seqs = snapshot.seqs?.length === n ? snapshot.seqs : new Array<number>(n).fill(atSeq);
    builder.#sizes = snapshot.sizes?.length === n ? snapshot.sizes : snapshot.messages.map(sizeOf);
    builder.#chars = builder.#sizes.reduce((a, b) => a + b, 0);
    builder.#startSeq = snapshot.startSeq ?? 0;
    builder.#lastSeq = Math.max(atSeq, builder.#seqs.at(-1) ?? 0);
    builder.#lastUsage = snapshot.lastUsage ?? null;
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
      seqs: this.#seqs.slice(),
      sizes: this.#sizes.slice(),
      startSeq: this.#startSeq,
      lastUsage: this.#lastUsage,
    };
  }

  /** Where the transcript starts: the seq of the latest compaction, or 0. */
  get startSeq(): number {
    return this.#startSeq;
  }

  /**
   * The seq of the event that added the latest message (a tool message: its first result's). The
   * current step's model attempts all come after it, unless a compaction came between them.
   */
  get lastMessageSeq(): number {
    return this.#seqs.at(-1) ?? this.#startSeq;
  }

  /**
   * The transcript's tokens, estimated: the provider's count at the latest response plus what
   * came after at four characters a token; without a count (none yet, or a compaction since),
   * everything at four characters a token, with `fixedChars` (instructions, tool definitions).
   */
  estimateTokens(fixedChars: number): number {
    const usage = this.#lastUsage;
    if (usage !== null) return usage.tokens + Math.ceil(Math.max(0, this.#chars - usage.chars) / 4);
    return Math.ceil((this.#chars + fixedChars) / 4);
  }

  /**
   * Where to cut for a compaction that keeps the latest `keepTurns` assistant turns (and what
   * followed them), or fewer when those alone would be over `maxKeptChars`; at worst everything
   * is replaced. The cut is always before an assistant message (or at the end), so a call and
   * its results stay on the same side. Null when there is nothing to replace but a summary.
   */
  compactionCut(keepTurns: number, maxKeptChars: number): CompactionCut | null {
    const assistants: number[] = [];
    for (let i = 0; i < this.#messages.length; i++) {
      if (this.#messages[i]?.role === 'assistant') assistants.push(i);
    }
    const prefix = (end: number): number => {
      let chars = 0;
      for (let i = 0; i < end; i++) chars += this.#sizes[i] ?? 0;
      return chars;
    };
    // Replacing only the latest summary (or nothing) gains nothing.
    const least = this.#startSeq > 0 ? 2 : 1;
    for (let keep = Math.min(keepTurns, assistants.length); keep >= 0; keep--) {
      const at = keep === 0 ? this.#messages.length : (assistants[assistants.length - keep] ?? 0);
      if (at < least) continue;
      if (keep > 0 && this.#chars - prefix(at) > maxKeptChars) continue;
      const throughSeq =
        at < this.#messages.length ? (this.#seqs[at] ?? this.#lastSeq) - 1 : this.#lastSeq;
      return { messages: at, fromSeq: this.#seqs[0] ?? 1, throughSeq };
    }
    return null;
  }

  /** The cut that drops every message so far: what a provider's native compaction replaces. */
  wholeCut(): CompactionCut {
    return {
      messages: this.#messages.length,
      fromSeq: this.#seqs[0] ?? this.#lastSeq,
      throughSeq: this.#lastSeq,
    };
  }

  /** The characters of the messages from `index` on. */
  charsFrom(index: number): number {
    let chars = 0;
    for (let i = index; i < this.#sizes.length; i++) chars += this.#sizes[i] ?? 0;
    return chars;
  }

  /** The first `count` messages: what a compaction's summary call is given. */
  head(count: number): ModelMessage[] {
    return this.#messages.slice(0, count);
  }

  apply(event: StoredEvent): void {
    this.#lastSeq = event.seq;
    switch (event.type) {
      case 'session.created':
        this.#push({ role: 'user', content: taskText(event.data.input) }, event.seq);
        return;
      case 'user.messaged':
        this.#push({ role: 'user', content: event.data.text }, event.seq);
        return;
      case 'outcome.evaluated':
        // The evaluator's feedback is what the agent reads next, as a person's message would be.
        if (event.data.continues)
          this.#push({ role: 'user', content: event.data.feedback }, event.seq);
        return;
      case 'context.compacted': {
        const n = Math.min(event.data.messages, this.#messages.length);
        // A native compaction's item opens the turn recorded just before: nothing is added.
        const added = event.data.native === undefined ? [summaryMessage(event.data)] : [];
        this.#messages.splice(0, n, ...added);
        this.#seqs.splice(0, n, ...added.map(() => event.seq));
        this.#sizes.splice(0, n, ...added.map(sizeOf));
        this.#chars = this.#sizes.reduce((a, b) => a + b, 0);
        this.#startSeq = event.seq;
        // The provider's count was of the transcript before: from here on, an estimate.
        this.#lastUsage = null;
        return;
      }
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
        this.#push(
          {
            role: 'assistant',
            text: event.data.text,
            toolCalls,
            ...(parts === undefined ? {} : { parts }),
          },
          event.seq,
        );
        const { inputTokens, outputTokens } = event.data.usage;
        // Arguments kept in the blob store were output tokens, but the transcript holds their view.
        const keptChars = event.data.toolCalls.reduce(
          (n, c) => n + (c.inputRef === undefined ? 0 : c.inputRef.chars - sizeOf(c.args)),
          0,
        );
        const tokens = Math.max(0, inputTokens + outputTokens - Math.floor(keptChars / 4));
        this.#lastUsage = inputTokens > 0 ? { tokens, chars: this.#chars } : null;
        return;
      }
      case 'tool.completed':
        this.#result(event.data.callIndex, event.data.output, !event.data.ok, event.seq);
        return;
      case 'tool.interrupted':
        this.#result(
          event.data.callIndex,
          'outcome unknown: the worker running this call stopped before it finished; it was not repeated',
          true,
          event.seq,
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
    const orphans = this.#answered.size === this.#callIds.size ? [] : this.orphans();
    if (orphans.length > 0) {
      throw new LongrunError(
        'INTERNAL',
        `tool calls ${orphans.join(', ')} have no result; a model call must not see them`,
      );
    }
    // concat copies the array in one piece, a spread element by element (3,785 messages: 2 µs
    // against 12).
    return [{ role: 'system', content: instructions } as ModelMessage].concat(this.#messages);
  }

  #push(message: ModelMessage, seq: number): void {
    const size = sizeOf(message);
    this.#messages.push(message);
    this.#seqs.push(seq);
    this.#sizes.push(size);
    this.#chars += size;
  }

  #result(callIndex: number, output: JsonValue, isError: boolean, seq: number): void {
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
    if (last?.role === 'tool') {
      const at = this.#messages.length - 1;
      this.#messages[at] = { role: 'tool', results: [...last.results, result] };
      const grown = sizeOf(result) + 1;
      this.#sizes[at] = (this.#sizes[at] ?? 0) + grown;
      this.#chars += grown;
    } else this.#push({ role: 'tool', results: [result] }, seq);
  }
}
