// How much of a tool call's arguments the log's copy shows. A call whose arguments were too large
// for the log holds only a capped view of them there (the runtime's `keepLargeInputs`): a note
// ending in "]\n", then the first characters of the whole arguments' JSON text. The API says the
// same of an approval (argumentsComplete, argumentsChars, argumentsShownChars); the timeline,
// which reads the log, works it out here.
import type { JsonObject } from './api-types.ts';

export interface ArgumentsExtent {
  /** False when what is shown is a capped view: some of the arguments are not in it. */
  complete: boolean;
  /** Characters of the whole arguments' JSON text. */
  chars: number;
  /** Characters of that text the view shows (all of them when complete). */
  shownChars: number;
}

/** `keptChars`: the whole arguments' length from the call's `inputRef`, null when it has none. */
export function argumentsExtent(args: JsonObject, keptChars: number | null): ArgumentsExtent {
  if (keptChars === null) {
    const chars = JSON.stringify(args).length;
    return { complete: true, chars, shownChars: chars };
  }
  const [view] = Object.values(args);
  const noteEnd = typeof view === 'string' ? view.indexOf(']\n') : -1;
  const shown = typeof view === 'string' && noteEnd !== -1 ? view.length - (noteEnd + 2) : 0;
  return { complete: false, chars: keptChars, shownChars: Math.min(shown, keptChars) };
}
