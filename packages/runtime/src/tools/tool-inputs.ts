import { type BlobStore, type JsonObject, type ToolCall, isBlobHash } from '@longrun/core';
import { keepText } from './tool-results.ts';
import {
  readToolResultName,
  toolResultLimits,
  type ToolInputsConfig,
} from './tool-results-config.ts';

/** The one key of a kept call's capped view: a note, then the first characters of the JSON. */
const keptArgumentsKey = 'kept_arguments';

/**
 * A response's tool calls, each one whose arguments are too large for the log rewritten (DESIGN
 * §2): their JSON text goes to the blob store (content-addressed, so a response made again stores
 * nothing new), the call keeps its hash (`inputRef`), and `args` becomes the capped view the model
 * sees on later turns. The caller commits the calls only after this returns: a blob is stored
 * before the event that names it. `whole`: tools whose arguments are always kept in the log (the
 * runtime reads them back from there).
 */
export async function keepLargeInputs(
  calls: ToolCall[],
  blobs: BlobStore,
  config: ToolInputsConfig | undefined,
  step: number,
  whole: ReadonlySet<string>,
): Promise<ToolCall[]> {
  const { maxInlineChars, viewChars } = toolResultLimits(config, 'toolInputs');
  // Most responses carry only small arguments: those are answered without a promise per call.
  const texts = calls.map((call) => JSON.stringify(call.args));
  if (
    calls.every((call, i) => (texts[i] as string).length <= maxInlineChars || whole.has(call.tool))
  )
    return calls;
  return Promise.all(
    calls.map(async (call, i) => {
      const text = texts[i] as string;
      if (text.length <= maxInlineChars || whole.has(call.tool)) return call;
      const inputRef = await keepText(blobs, text);
      // The hash is in the view, so an approval or a loop check bound to the view is bound to the
      // whole arguments.
      const note =
        `[arguments of ${text.length} characters (sha256 ${inputRef.hash}), kept outside the transcript; ` +
        `the first ${viewChars} follow. Read more with ${readToolResultName} ` +
        `{"step": ${step}, "callIndex": ${call.callIndex}, "part": "input", "offset": ${viewChars}}]\n`;
      return { ...call, args: { [keptArgumentsKey]: note + text.slice(0, viewChars) }, inputRef };
    }),
  );
}

/**
 * How many characters of the whole arguments' JSON text a capped view made by `keepLargeInputs`
 * shows: the text after its note (which ends at its first `]\n`). Null for arguments that are
 * not such a view. Read here, beside the writer, so the two change together.
 */
export function keptViewChars(args: JsonObject): number | null {
  const keys = Object.keys(args);
  const view = args[keptArgumentsKey];
  if (keys.length !== 1 || typeof view !== 'string') return null;
  const noteEnd = view.indexOf(']\n');
  return noteEnd === -1 ? null : view.length - (noteEnd + 2);
}

/**
 * The arguments a call runs with: its `args`, or for a call whose arguments were kept in the blob
 * store, the whole of them read back from there (null when the blob store has lost them).
 */
export async function fullArgs(call: ToolCall, blobs: BlobStore): Promise<JsonObject | null> {
  if (call.inputRef === undefined) return call.args;
  if (!isBlobHash(call.inputRef.hash)) return null;
  const bytes = await blobs.get(call.inputRef.hash);
  if (bytes === null) return null;
  return JSON.parse(new TextDecoder().decode(bytes)) as JsonObject;
}
