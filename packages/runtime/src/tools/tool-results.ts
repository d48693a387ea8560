import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  LongrunError,
  event,
  type BlobRef,
  type BlobStore,
  type JsonValue,
  type ModelToolSpec,
  type NewEvent,
  type SessionState,
  type Tool,
  type ToolInputSchema,
} from '@longrun/core';
import { toolSpecs, zodInput } from '../agent/define-agent.ts';
import {
  readToolResultName,
  toolResultLimits as limits,
  type ToolResultsConfig,
} from './tool-results-config.ts';

/**
 * A `tool.completed` whose output is too large for the log, rewritten (DESIGN §2): the output's
 * JSON text goes to the blob store (content-addressed, so a call run again stores nothing new),
 * the event keeps its hash (`outputRef`), and `output` becomes the capped view the model sees —
 * the first characters and how to read the rest. Any other event is returned as it is.
 */
export async function keepLargeOutput(
  e: NewEvent,
  blobs: BlobStore,
  config: ToolResultsConfig | undefined,
): Promise<NewEvent> {
  if (e.type !== 'tool.completed') return e;
  const { maxInlineChars, viewChars } = limits(config);
  const text = typeof e.data.output === 'string' ? e.data.output : JSON.stringify(e.data.output);
  if (text.length <= maxInlineChars) return e;
  const outputRef = await keepText(blobs, text);
  const { step, callIndex } = e.data;
  const view =
    `[output of ${text.length} characters, kept outside the transcript; the first ${viewChars} follow. ` +
    `Read more with ${readToolResultName} {"step": ${step}, "callIndex": ${callIndex}, "offset": ${viewChars}}]\n` +
    text.slice(0, viewChars);
  return event('tool.completed', {
    ...e.data,
    output: view,
    outputRef,
  });
}

/** Stores `text` in the blob store under its SHA-256 (a text stored before is left as it is). */
export async function keepText(blobs: BlobStore, text: string): Promise<BlobRef> {
  const bytes = new TextEncoder().encode(text);
  const hash = createHash('sha256').update(bytes).digest('hex');
  await blobs.put(hash, bytes);
  return { hash, chars: text.length };
}

/** Whether the session has an output or arguments kept in the blob store: the pager is offered. */
export function hasKeptContent(state: SessionState): boolean {
  return state.largeResults !== undefined || state.largeInputs !== undefined;
}

/**
 * `read_tool_result`: pages through an output this session's tools produced, or the arguments
 * its model wrote into a call (`part: "input"`), that was kept in the blob store. It reads only
 * this session's own (by step and call index, from its log's state), never a blob by hash, so
 * one session can never read another's data.
 */
export function readToolResultTool(options: {
  blobs: BlobStore;
  state: () => SessionState;
  config: ToolResultsConfig | undefined;
}): Tool<PageRequest> {
  const { viewChars } = limits(options.config);
  return {
    name: readToolResultName,
    description: `Reads part of a tool output, or of a tool call's arguments (part "input"), too large for the conversation (one that says it was kept outside the transcript), at most ${viewChars} characters at a time.`,
    input: pageRequestInput(viewChars),
    effect: 'pure',
    run: async ({ step, callIndex, part, offset, length }): Promise<JsonValue> => {
      const state = options.state();
      const kept = part === 'input' ? state.largeInputs : state.largeResults;
      const ref = kept?.[`${step}:${callIndex}`];
      const what = part === 'input' ? 'arguments' : 'output';
      if (ref === undefined) {
        throw new LongrunError(
          'NOT_FOUND',
          `call ${callIndex} of step ${step} has no ${what} kept outside the transcript: the conversation holds all of it`,
        );
      }
      const bytes = await options.blobs.get(ref.hash);
      if (bytes === null) {
        throw new LongrunError(
          'WORKSPACE_CORRUPT',
          `the blob store has lost the kept ${what} of call ${callIndex} of step ${step}`,
        );
      }
      const text = new TextDecoder().decode(bytes);
      const end = Math.min(text.length, offset + length);
      const more = end < text.length ? ` Next: offset ${end}.` : ' That is the end.';
      return `[characters ${offset}–${end} of ${text.length}.${more}]\n${text.slice(offset, end)}`;
    },
  };
}

const pageRequest = (viewChars: number) =>
  z.object({
    step: z.number().int().min(1),
    callIndex: z.number().int().min(0),
    part: z.enum(['output', 'input']).default('output'),
    offset: z.number().int().min(0).default(0),
    length: z.number().int().min(1).max(viewChars).default(viewChars),
  });
type PageRequest = z.infer<ReturnType<typeof pageRequest>>;

/**
 * The pager's input, made once per page size: the tool is made for every run of a session (it
 * reads that run's state), and making its JSON Schema each time cost about 2 ms a claim.
 */
const pageRequestInputs = new Map<number, ToolInputSchema<PageRequest>>();
function pageRequestInput(viewChars: number): ToolInputSchema<PageRequest> {
  let input = pageRequestInputs.get(viewChars);
  if (input === undefined) {
    input = zodInput(pageRequest(viewChars));
    pageRequestInputs.set(viewChars, input);
  }
  return input;
}

/** The spec of `read_tool_result`, offered to the model once the session has a kept output. */
export function readToolResultSpec(tool: Tool): ModelToolSpec {
  const [spec] = toolSpecs([tool]);
  if (spec === undefined) throw new LongrunError('INTERNAL', 'no spec for read_tool_result');
  return spec;
}
