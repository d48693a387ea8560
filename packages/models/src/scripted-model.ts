import {
  LongrunError,
  type ErrorCode,
  type FinishReason,
  type JsonObject,
  type ModelClient,
  type ModelRequest,
  type ModelResponse,
  type ResponsePart,
  type TokenUsage,
} from '@longrun/core';
import {
  checkTranscript,
  stepsOfModelMessages,
  type TranscriptViolation,
} from './transcript-check.ts';

/** One scripted answer, or one scripted failure, per call of `stream`. */
export interface ScriptedTurn {
  /** Streamed in chunks of `chunkSize` characters. */
  text?: string;
  /**
   * Default id: `call_<step>_<i>` (`i` from 1), by the request's step (see `stepOf`), so a
   * resumed worker in another process gives the ids an uninterrupted run would.
   */
  toolCalls?: { id?: string; name: string; args: JsonObject }[];
  /** The turn's ordered parts with reasoning and provider metadata, returned as they are. */
  parts?: ResponsePart[];
  /** Default: `tool-calls` when there are tool calls, else `stop`. */
  finishReason?: FinishReason;
  /** Default: about one token per four characters, so budgets and logs see plausible figures. */
  usage?: TokenUsage;
  /**
   * Fail this call instead of answering — after streaming `text`, if any, which is how a stream
   * cut mid-way looks. The next call gets the next turn, so `[{ fail }, { text }]` is "fail
   * attempt 1, succeed on attempt 2".
   */
  fail?: { code: Extract<ErrorCode, `MODEL_${string}`>; message?: string; retryAfterMs?: number };
}

export type ScriptedTurns =
  ScriptedTurn[] | ((request: ModelRequest, call: number) => ScriptedTurn);

export interface ScriptedModelOptions {
  id?: string;
  /** Characters per text delta. Default 8. */
  chunkSize?: number;
  /** Pause before each text delta, through `sleep` (no pause when 0). Default 0. */
  chunkDelayMs?: number;
  /** Injected so tests and the offline demo control time. Default: a real timer. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * Declares the model continues a last assistant message (`supportsAssistantPrefill`); the
   * scripted turns then answer with the continuation. Default false.
   */
  assistantPrefill?: boolean;
}

export interface ScriptedModel extends ModelClient {
  /** Every request received, in order (the first is call 1). */
  readonly requests: ModelRequest[];
  /** Transcript violations found in those requests; each such request was also rejected. */
  readonly violations: (TranscriptViolation & { call: number })[];
}

/**
 * A deterministic model for tests and the offline demo: replays scripted text (streamed in
 * chunks) and tool calls, or scripted failures. Like a real provider it refuses (MODEL_REJECTED)
 * a transcript with a tool call left without a result, and records that it did.
 */
export function scriptedModel(
  turns: ScriptedTurns,
  options: ScriptedModelOptions = {},
): ScriptedModel {
  const id = options.id ?? 'scripted:replay';
  const chunkSize = Math.max(1, options.chunkSize ?? 8);
  const chunkDelayMs = options.chunkDelayMs ?? 0;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const requests: ModelRequest[] = [];
  const violations: ScriptedModel['violations'] = [];

  const turnFor = (request: ModelRequest, call: number): ScriptedTurn => {
    if (typeof turns === 'function') return turns(request, call);
    const turn = turns[call - 1];
    if (turn === undefined) {
      throw new LongrunError(
        'INTERNAL',
        `${id} has ${turns.length} scripted turns; call ${call} has none`,
      );
    }
    return turn;
  };

  return {
    id,
    supportsAssistantPrefill: options.assistantPrefill ?? false,
    requests,
    violations,
    async stream(request, onTextDelta): Promise<ModelResponse> {
      request.signal?.throwIfAborted();
      requests.push(request);
      const call = requests.length;
      const found = checkTranscript(stepsOfModelMessages(request.messages));
      if (found.length > 0) {
        violations.push(...found.map((v) => ({ ...v, call })));
        throw new LongrunError(
          'MODEL_REJECTED',
          `${id} refused call ${call}: ${found[0]?.message}`,
          {
            details: { violations: found },
          },
        );
      }
      const turn = turnFor(request, call);
      const text = turn.text ?? '';
      for (let at = 0; at < text.length; at += chunkSize) {
        if (chunkDelayMs > 0) await sleep(chunkDelayMs);
        request.signal?.throwIfAborted();
        onTextDelta(text.slice(at, at + chunkSize));
      }
      if (turn.fail !== undefined) throw scriptedFailure(id, call, turn.fail);
      const step = stepOf(request);
      const toolCalls = (turn.toolCalls ?? []).map((c, i) => ({
        id: c.id ?? `call_${step}_${i + 1}`,
        name: c.name,
        args: c.args,
      }));
      return {
        text,
        toolCalls,
        finishReason: turn.finishReason ?? (toolCalls.length > 0 ? 'tool-calls' : 'stop'),
        usage: turn.usage ?? estimatedUsage(request, text, toolCalls),
        modelId: id,
        ...(turn.parts === undefined ? {} : { parts: turn.parts }),
      };
    },
  };
}

/**
 * The step a request is for, which names its default tool call ids (`call_<step>_<i>`): the
 * harness's step (`request.context.step`), else the assistant turns in the transcript plus one.
 * Derived from the request alone, never from a count of calls: a worker that resumes the session
 * in a new process gives the ids the first run gave (a counter restarted at 1 there and repeated
 * an id the transcript already held). The harness's step also keeps counting through a
 * compaction, which shortens the transcript.
 */
function stepOf(request: ModelRequest): number {
  const step = request.context?.step;
  if (step !== undefined) return step;
  return request.messages.filter((m) => m.role === 'assistant').length + 1;
}

function scriptedFailure(
  id: string,
  call: number,
  fail: NonNullable<ScriptedTurn['fail']>,
): LongrunError {
  const details = fail.retryAfterMs === undefined ? undefined : { retryAfterMs: fail.retryAfterMs };
  return new LongrunError(
    fail.code,
    fail.message ?? `${id}: scripted ${fail.code} on call ${call}`,
    {
      details,
    },
  );
}

function estimatedUsage(request: ModelRequest, text: string, toolCalls: unknown[]): TokenUsage {
  const tokens = (chars: number): number => Math.ceil(chars / 4);
  return {
    inputTokens: tokens(JSON.stringify(request.messages).length),
    outputTokens: tokens(text.length + JSON.stringify(toolCalls).length),
  };
}
