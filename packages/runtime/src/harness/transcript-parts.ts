import {
  maxCheckpointPartsAdded,
  type CheckpointPart,
  type JsonValue,
  type ModelMessage,
} from '@longrun/core';
import { intsFromText, intsToText } from './int-text.ts';
import { decodeMessages, encodeMessages, type EncodedMessages } from './transcript-codec.ts';

/**
 * The least characters of messages (as JSON, the transcript's own `sizes`) a part holds: a
 * checkpoint carries at most about this much of the transcript besides the parts it adds.
 */
export const partChars = 8_192;

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
    const ref = { ...base };
    const add: CheckpointPart[] = [];
    let start = ref.messages;
    let chars = 0;
    for (let i = start; i < messages.length - 1 && add.length < maxCheckpointPartsAdded; i++) {
      chars += sizes[i] ?? 0;
      if (chars < partChars) continue;
      const value: PartValue = {
        records: encodeMessages(messages.slice(start, i + 1)),
        seqs: intsToText(seqs.slice(start, i + 1)),
        sizes: intsToText(sizes.slice(start, i + 1)),
      };
      add.push({ index: ref.from + ref.count, value: value as unknown as JsonValue });
      ref.count++;
      ref.messages = i + 1;
      start = i + 1;
      chars = 0;
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
  const out: SealedMessages = { messages: [], seqs: [], sizes: [] };
  try {
    for (let index = ref.from; index < ref.from + ref.count; index++) {
      const value = byIndex.get(index) as unknown as PartValue | undefined;
      if (value === undefined || value === null || typeof value !== 'object') return null;
      const messages = decodeMessages(value.records);
      const seqs = intsFromText(value.seqs);
      const sizes = intsFromText(value.sizes);
      if (seqs?.length !== messages.length || sizes?.length !== messages.length) return null;
      for (let i = 0; i < messages.length; i++) {
        out.messages.push(messages[i] as ModelMessage);
        out.seqs.push(seqs[i] as number);
        out.sizes.push(sizes[i] as number);
      }
    }
  } catch {
    return null;
  }
  return out.messages.length === ref.messages ? out : null;
}
