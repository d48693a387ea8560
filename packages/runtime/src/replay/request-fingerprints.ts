import { createHash } from 'node:crypto';
import type { ModelMessage, StoredEvent } from '@longrun/core';
import { TranscriptBuilder } from '../agent/transcript-builder.ts';

/**
 * What the model was given at a step, as hashes: a debug bundle keeps one per `model.responded`
 * (`requests.jsonl`), taken from the log when the bundle is made, so a replay can tell that the
 * request its harness makes is not the one the recorded response answered — after a change to
 * the agent or to longrun, or to a result inside the bundle. The instructions (the system
 * message) are left out: they come from the agent's code, not from the log.
 */
export interface RequestFingerprint {
  step: number;
  /** Messages in the request, without the system message. */
  messages: number;
  /** SHA-256 over the messages' own hashes, in order. */
  sha256: string;
  /** The index of the first message of `added`: the previous request's length when this one extends it, else 0. */
  from: number;
  /** The hashes of the messages from `from` on. */
  added: string[];
}

/** Hashes messages, each once: a transcript's messages are never changed once made. */
export class MessageHasher {
  readonly #cache = new WeakMap<object, string>();

  hash(message: ModelMessage): string {
    let hash = this.#cache.get(message);
    if (hash === undefined) {
      hash = createHash('sha256').update(JSON.stringify(message)).digest('hex');
      this.#cache.set(message, hash);
    }
    return hash;
  }

  hashes(messages: readonly ModelMessage[]): string[] {
    return messages.filter((m) => m.role !== 'system').map((m) => this.hash(m));
  }
}

export function digest(hashes: readonly string[]): string {
  const h = createHash('sha256');
  for (const one of hashes) h.update(one);
  return h.digest('hex');
}

/** One fingerprint per `model.responded` of the log: the transcript as it stood before it. */
export function requestFingerprints(events: readonly StoredEvent[]): RequestFingerprint[] {
  const transcript = new TranscriptBuilder();
  const hasher = new MessageHasher();
  const out: RequestFingerprint[] = [];
  let previous: string[] = [];
  for (const e of events) {
    if (e.type === 'model.responded') {
      let hashes: string[] | null = null;
      try {
        hashes = hasher.hashes(transcript.messages(''));
      } catch {
        hashes = null; // a transcript with an open call: no request could have been made
      }
      if (hashes !== null) {
        const extends_ =
          previous.length <= hashes.length && previous.every((h, i) => hashes[i] === h);
        const from = extends_ ? previous.length : 0;
        out.push({
          step: e.data.step,
          messages: hashes.length,
          sha256: digest(hashes),
          from,
          added: hashes.slice(from),
        });
        previous = hashes;
      }
    }
    transcript.apply(e);
  }
  return out;
}

/** Where a request differs from its fingerprint: the first message whose hash is not the recorded one. */
export function firstDifferentMessage(
  fingerprint: RequestFingerprint,
  hashes: readonly string[],
  earlier: readonly RequestFingerprint[],
): number {
  // The recorded hashes up to `from` are those of the fingerprints before it, rebuilt in order.
  let expected: string[] = [];
  for (const f of [...earlier, fingerprint]) expected = [...expected.slice(0, f.from), ...f.added];
  const n = Math.max(expected.length, hashes.length);
  for (let i = 0; i < n; i++) if (expected[i] !== hashes[i]) return i;
  return n;
}
