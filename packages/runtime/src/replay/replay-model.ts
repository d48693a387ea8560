import {
  LongrunError,
  errorCodes,
  failureCode,
  type ErrorCode,
  type EventDataByType,
  type FinishReason,
  type ModelClient,
  type ModelResponse,
  type ModelMessage,
  type ProviderMetadata,
  type ResponsePart,
  type JsonObject,
  type StoredEvent,
  type ToolCall,
} from '@longrun/core';
import {
  MessageHasher,
  digest,
  firstDifferentMessage,
  type RequestFingerprint,
} from './request-fingerprints.ts';

/** A request that is not the one the recorded response answered. */
export interface RequestMismatch {
  step: number;
  /** The first message (system message left out) that differs. */
  index: number;
  recordedMessages: number;
  replayedMessages: number;
  /** The replayed request's message at `index`, if it has one. */
  message: ModelMessage | null;
}

type Outcome =
  | { kind: 'responded'; data: EventDataByType['model.responded'] }
  | { kind: 'failed'; data: EventDataByType['model.failed']; streamed: string };

/** The recording's tool call arguments kept in the blob store, by hash (null: not there). */
export type KeptInputs = (hash: string) => Promise<Uint8Array | null>;

const finishReasons = new Set(['stop', 'tool-calls', 'length', 'content-filter', 'error', 'other']);

/**
 * A model that answers each step's calls with what the recording says the model did at that
 * step, in order: its failures (not the attempts a dead worker left, which the model never
 * answered) and then its response. No network: a call the recording has no answer for fails with
 * MODEL_REJECTED saying so, which the replay reports as its divergence. A failure streams the
 * text the recording holds of its attempt first, and the model takes a prefill when the recorded
 * one did, answering it with the rest of the recorded turn: a continued turn replays as one.
 */
export class ReplayModel implements ModelClient {
  readonly id: string;
  readonly supportsAssistantPrefill: boolean;
  /**
   * Present when the recorded provider compacted natively: the harness then leaves compaction to
   * the recorded responses (whose compaction parts it records again), as it did, and writes no
   * summary of its own. What it asks for is nobody's to answer.
   */
  readonly nativeCompactionOptions?: (triggerTokens: number) => ProviderMetadata;
  readonly #byStep = new Map<number, Outcome[]>();
  /** The summaries compactions wrote, in the order they were written; each answers one call. */
  readonly #summaries: EventDataByType['context.compacted'][] = [];
  readonly #calls = new Map<number, number>();
  readonly #requests: RequestFingerprint[];
  readonly #hasher = new MessageHasher();
  /** Set by the first request that differs from its fingerprint. */
  mismatch: RequestMismatch | null = null;

  readonly #inputs: KeptInputs | undefined;

  /**
   * `requests`: the bundle's fingerprints; without them requests are not checked. `inputs`: where
   * the recording's kept tool call arguments are (its blob store, a bundle's `tool-inputs/`).
   */
  constructor(
    events: readonly StoredEvent[],
    requests: readonly RequestFingerprint[] = [],
    inputs?: KeptInputs,
  ) {
    this.#requests = [...requests];
    this.#inputs = inputs;
    let id = 'replay';
    let prefills = false;
    const streamed = new Map<string, string>();
    for (const e of events) {
      if (e.type === 'model.responded') {
        this.#push(e.data.step, { kind: 'responded', data: e.data });
        id = e.data.requestedModelId ?? e.data.modelId ?? id;
      } else if (e.type === 'model.streamed') {
        const key = `${e.data.step}:${e.data.attempt}`;
        streamed.set(key, (streamed.get(key) ?? '') + e.data.text);
      } else if (e.type === 'model.failed' && e.data.code !== failureCode.workerStopped) {
        const text = streamed.get(`${e.data.step}:${e.data.attempt}`) ?? '';
        this.#push(e.data.step, { kind: 'failed', data: e.data, streamed: text });
      } else if (e.type === 'context.compacted' && e.data.native !== undefined) {
        this.nativeCompactionOptions = () => ({});
      } else if (e.type === 'context.compacted' && e.data.handoff === undefined) {
        // A handoff (a context reset) called no model; every other compaction wrote a summary.
        this.#summaries.push(e.data);
      } else if (e.type === 'model.requested') {
        id = e.data.modelId;
        prefills ||= e.data.continues !== undefined;
      }
    }
    this.id = id;
    this.supportsAssistantPrefill = prefills;
  }

  #push(step: number, outcome: Outcome): void {
    const list = this.#byStep.get(step) ?? [];
    list.push(outcome);
    this.#byStep.set(step, list);
  }

  #checkRequest(step: number, messages: readonly ModelMessage[]): void {
    const at = this.#requests.findLastIndex((r) => r.step === step);
    const recorded = this.#requests[at];
    if (recorded === undefined) return;
    const hashes = this.#hasher.hashes(messages);
    if (digest(hashes) === recorded.sha256) return;
    const index = firstDifferentMessage(recorded, hashes, this.#requests.slice(0, at));
    const replayed = messages.filter((m) => m.role !== 'system');
    this.mismatch ??= {
      step,
      index,
      recordedMessages: recorded.messages,
      replayedMessages: hashes.length,
      message: replayed[index] ?? null,
    };
    throw new LongrunError(
      'MODEL_REJECTED',
      `replay: the request of step ${step} is not the one the recorded response answered (message ${index + 1} differs)`,
      { retryable: false },
    );
  }

  /** The arguments the model wrote: for a call that kept them in the blob store, read back. */
  async #wholeArgs(step: number, call: ToolCall): Promise<JsonObject> {
    if (call.inputRef === undefined) return call.args;
    const bytes = await this.#inputs?.(call.inputRef.hash);
    if (bytes === null || bytes === undefined) {
      throw new LongrunError(
        'MODEL_REJECTED',
        `replay: call ${call.callIndex} of step ${step} kept its arguments outside the log (sha256 ${call.inputRef.hash}) and the replay was not given them: replay from a bundle, which holds them under tool-inputs/`,
        { retryable: false },
      );
    }
    return JSON.parse(new TextDecoder().decode(bytes)) as JsonObject;
  }

  /**
   * A compaction's summary call, answered with the next summary the recording holds. A summary
   * call that failed or that a worker's death cut off left nothing in the log, and is not made
   * again by the replay: the recorded summaries answer the replayed calls one for one. Its
   * request is the older transcript's (what the step's own fingerprint would not match).
   */
  #summary(step: number): ModelResponse {
    const recorded = this.#summaries.shift();
    if (recorded === undefined) {
      throw new LongrunError(
        'MODEL_REJECTED',
        `replay: a compaction before step ${step} asked for a summary, and the recording has no more (it compacted fewer times)`,
        { retryable: false },
      );
    }
    return {
      text: recorded.summary,
      toolCalls: [],
      finishReason: 'stop',
      usage: recorded.usage,
      modelId: recorded.modelId,
    };
  }

  async stream(
    request: Parameters<ModelClient['stream']>[0],
    onTextDelta: (text: string) => void,
  ): Promise<ModelResponse> {
    const step = request.context?.step;
    if (step === undefined) {
      throw new LongrunError(
        'MODEL_REJECTED',
        'replay: a model call outside a session step (a compaction or an evaluator) has no recorded answer',
        { retryable: false },
      );
    }
    if (request.context?.purpose === 'summary') return this.#summary(step);
    // A last assistant message is a prefill (a transcript never ends with one): not in the
    // recorded request's fingerprint, which is the transcript's.
    const prefill = request.messages.at(-1);
    const continues = prefill?.role === 'assistant' ? prefill.text : null;
    this.#checkRequest(step, continues === null ? request.messages : request.messages.slice(0, -1));
    const n = this.#calls.get(step) ?? 0;
    this.#calls.set(step, n + 1);
    const outcome = this.#byStep.get(step)?.[n];
    if (outcome === undefined) {
      throw new LongrunError(
        'MODEL_REJECTED',
        `replay: the recording has no answer for call ${n + 1} of step ${step}`,
        { retryable: false },
      );
    }
    if (outcome.kind === 'failed') {
      if (outcome.streamed !== '') onTextDelta(outcome.streamed);
      const { code, message, retryable } = outcome.data;
      const known = code in errorCodes ? (code as ErrorCode) : 'INTERNAL';
      throw new LongrunError(known, message, { retryable });
    }
    const d = outcome.data;
    const text =
      continues !== null && d.text.startsWith(continues) ? d.text.slice(continues.length) : d.text;
    if (text !== '') onTextDelta(text);
    return {
      text,
      toolCalls: await Promise.all(
        d.toolCalls.map(async (c) => ({
          id: c.id ?? `call_${d.step}_${c.callIndex}`,
          name: c.tool,
          args: await this.#wholeArgs(d.step, c),
        })),
      ),
      ...(d.parts === undefined
        ? {}
        : { parts: continues === null ? d.parts : partsAfter(d.parts, continues) }),
      ...(d.providerMetadata === undefined ? {} : { providerMetadata: d.providerMetadata }),
      finishReason: finishReasons.has(d.finishReason ?? '')
        ? (d.finishReason as FinishReason)
        : d.toolCalls.length > 0
          ? 'tool-calls'
          : 'stop',
      usage: d.usage,
      modelId: d.modelId ?? this.id,
    };
  }
}

/**
 * A continued turn's recorded parts without the continued text, which the harness puts back
 * (continuedResponse): it is at the start of the first part that is not reasoning.
 */
function partsAfter(parts: ResponsePart[], continued: string): ResponsePart[] {
  const at = parts.findIndex((p) => p.type !== 'reasoning');
  const first = parts[at];
  if (first?.type !== 'text' || !first.text.startsWith(continued)) return parts;
  const text = first.text.slice(continued.length);
  const rest = text === '' && first.providerMetadata === undefined ? [] : [{ ...first, text }];
  return [...parts.slice(0, at), ...rest, ...parts.slice(at + 1)];
}
