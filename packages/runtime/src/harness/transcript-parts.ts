import { type CheckpointPart, type JsonValue, type ModelMessage } from '@longrun/core';
import { intsFromText, intsToText } from './int-text.ts';
import { decodeMessages, encodeMessages, type EncodedMessages } from './transcript-codec.ts';

/**
 * The least characters of messages (as JSON, the transcript's own `sizes`) a part holds: a
 * checkpoint carries at most about this much of the transcript besides the parts it adds.
 */
export const partChars = 16_384;

/**
 * The most parts a checkpoint stands on: past it, every sealed message is merged into one part,
 * so a resume reads a few rows. A sealed message is then written again once per
 * `maxParts - 1` runs (about 112 kB) of new messages, where a checkpoint of every format before
 * 10 wrote it again every 64 events.
 */
export const maxParts = 4;

/**
 * The sealed start of a format-10 checkpoint's transcript: parts `from` to `from + count - 1`
 * of the session's checkpoint parts, `messages` messages in all; the checkpoint's own records
 * are the messages after them.
 */
export interface PartsRef {
  from: number;
  count: number;
  messages: number;
}

/** A part's value: a run of messages encoded as a checkpoint's records, their seqs and sizes. */
interface PartValue {
  records: EncodedMessages;
  seqs: string;
  sizes: string;
}

/** The messages of some sealed parts, with the seq and size of each. */
export interface SealedMessages {
  messages: ModelMessage[];
  seqs: number[];
  sizes: number[];
}

/** What a checkpoint adds and refers to: `add` are new parts, `ref` all it stands on. */
export interface PartsPlan {
  add: CheckpointPart[];
  keepFrom: number;
  ref: PartsRef;
}

interface Sealed {
  /** The `startSeq` of the transcript the parts are of (a compaction starts another). */
  startSeq: number;
  ref: PartsRef;
}

/**
 * Which runs of a session's transcript are sealed into checkpoint parts, so that a checkpoint,
 * rewritten every `checkpointEvery` events, carries only the messages since: a part is written
 * once, with the first checkpoint that needs it, and read back with every later one.
 *
 * A message is sealed once it can no longer change: every message but the last (a tool message
 * that gains a result is replaced, and only the last one can). A compaction replaces the start
 * of the transcript, so its `startSeq` begins a new run of parts, whose first checkpoint removes
 * the previous run (`keepFrom`). Part indexes only grow, past every index the session already
 * has, so an index always names the same messages (the store keeps the first value of an index).
 * The state here moves only when the checkpoint that adds the parts commits (`committed`).
 */
export class TranscriptParts {
  #sealed: Sealed | null;
  #nextIndex: number;
  #pending: { sealed: Sealed; nextIndex: number } | null = null;

  /**
   * @param sealed what the loaded checkpoint's transcript stands on, or null (no checkpoint, an
   *   older format, parts that did not read back)
   * @param storedIndexes the indexes of the parts the session has
   */
  constructor(sealed: Sealed | null, storedIndexes: readonly number[]) {
    this.#sealed = sealed;
    let next = sealed === null ? 0 : sealed.ref.from + sealed.ref.count;
    for (const index of storedIndexes) next = Math.max(next, index + 1);
    this.#nextIndex = next;
  }

  /**
   * The parts a checkpoint of this transcript adds, and what its transcript stands on: the
   * messages sealed so far, and the runs of at least `partChars` that can be sealed now.
   */
  plan(transcript: {
    messages: readonly ModelMessage[];
    seqs: readonly number[];
    sizes: readonly number[];
    startSeq: number;
  }): PartsPlan {
    const { messages, seqs, sizes, startSeq } = transcript;
    const sealed = this.#sealed;
    const same =
      sealed !== null && sealed.startSeq === startSeq && sealed.ref.messages < messages.length;
    const base = same ? sealed.ref : { from: this.#nextIndex, count: 0, messages: 0 };
    // Where new runs of at least `partChars` end (every message but the last can be sealed).
    const ends: number[] = [];
    let chars = 0;
    for (let i = base.messages; i < messages.length - 1; i++) {
      chars += sizes[i] ?? 0;
      if (chars < partChars) continue;
      ends.push(i + 1);
      chars = 0;
    }
    const part = (index: number, from: number, to: number): CheckpointPart => {
      const value: PartValue = {
        records: encodeMessages(messages.slice(from, to)),
        seqs: intsToText(seqs.slice(from, to)),
        sizes: intsToText(sizes.slice(from, to)),
      };
      return { index, value: value as unknown as JsonValue };
    };
    let ref: PartsRef;
    let add: CheckpointPart[];
    const end = ends.at(-1) ?? base.messages;
    if (base.count + ends.length > maxParts) {
      // Merged: one part of every sealed message, at an index past every other; the older parts
      // go (keepFrom).
      const index = Math.max(this.#nextIndex, base.from + base.count);
      add = [part(index, 0, end)];
      ref = { from: index, count: 1, messages: end };
    } else {
      add = ends.map((to, k) => part(base.from + base.count + k, ends[k - 1] ?? base.messages, to));
      ref = { from: base.from, count: base.count + ends.length, messages: end };
    }
    this.#pending = {
      sealed: { startSeq, ref },
      nextIndex: Math.max(this.#nextIndex, ref.from + ref.count),
    };
    return { add, keepFrom: ref.from, ref };
  }

  /** The checkpoint of the latest plan committed: its parts are the session's now. */
  committed(): void {
    if (this.#pending === null) return;
    this.#sealed = this.#pending.sealed;
    this.#nextIndex = this.#pending.nextIndex;
    this.#pending = null;
  }
}

/**
 * The messages of the parts `ref` names, from the session's parts; null when one is missing or
 * does not decode, or they do not hold `ref.messages` messages (the caller reads the log then).
 */
export function readSealed(ref: PartsRef, parts: readonly CheckpointPart[]): SealedMessages | null {
  const byIndex = new Map<number, JsonValue>();
  for (const part of parts) byIndex.set(part.index, part.value);
  const messages: ModelMessage[][] = [];
  const seqs: number[][] = [];
  const sizes: number[][] = [];
  try {
    for (let index = ref.from; index < ref.from + ref.count; index++) {
      const value = byIndex.get(index) as unknown as PartValue | undefined;
      if (value === undefined || value === null || typeof value !== 'object') return null;
      const decoded = decodeMessages(value.records);
      const partSeqs = intsFromText(value.seqs);
      const partSizes = intsFromText(value.sizes);
      if (partSeqs?.length !== decoded.length || partSizes?.length !== decoded.length) return null;
      messages.push(decoded);
      seqs.push(partSeqs);
      sizes.push(partSizes);
    }
  } catch {
    return null;
  }
  // concat copies each array in one piece (a push per element cost more than the decode).
  const out: SealedMessages = {
    messages: ([] as ModelMessage[]).concat(...messages),
    seqs: ([] as number[]).concat(...seqs),
    sizes: ([] as number[]).concat(...sizes),
  };
  return out.messages.length === ref.messages ? out : null;
}
