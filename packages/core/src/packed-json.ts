/**
 * How the stores keep the JSON of an event's data (SQLite also a checkpoint's state; schema 11
 * there, 15 on Postgres): as the text itself, or, when that saves at least an eighth, as bytes
 * (a BLOB, a bytea) of one format byte then the text deflated (raw deflate) against a fixed
 * dictionary of the JSON an event's data repeats row after row: its keys, and the values the
 * harness writes most. An event of a few hundred bytes is mostly those, and a row is compressed
 * on its own (a log is read from any seq), so without the dictionary it would hardly shrink.
 * SQLite packs on its writer thread, Postgres (schema 15; events only, as it compresses values
 * over ~2 kB itself) on its event loop; both unpack where the rows are read. A subpath of its own (`@longrun/core/packed-json`) that
 * loads nothing else of core: SQLite's writer thread does not load core.
 */
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { fixedDeflater } from './fixed-deflate.ts';

/** The first byte of a packed value: which dictionary it was deflated against. */
const deflatedWithDictionary1 = 1;

/**
 * Never edit: values packed with it are read with it. A new dictionary takes a new format byte.
 * Later parts weigh more (deflate finds the nearest match first), so the commonest come last.
 */
const dictionary1 = Buffer.from(
  [
    '{"format":8,"state":{"agent":"","input":,"status":"running","seq":,"steps":,"calls":[',
    '"started":{"effect":"idempotent","idempotencyKey":"ses_',
    '"result":{"ok":true,"output":,"interrupted":false}}],"wait":null,"lastWake":null,',
    '"toolCallsCompleted":,"output":null,"failure":null,"turns":1,"lastResponse":{"text":"',
    '"toolCallCount":1,"modelAttempt":null,"failedAttempts":0,"modelFailures":0,',
    '"lastModelFailure":null,"workspace":null,"createdAtMs":,"loop":{"sinceSeq":0,',
    '"argsHash":"","resultHash":"","changedAtSeq":,"progressStep":,"seen":["","tools":[{"runs":[',
    '"transcript":{"atSeq":0,"records":{"shape":[],"lengths":[],"text":"","values":[]},',
    '"seqs":[],"sizes":[],"startSeq":0,"lastUsage":null}}',
    '{"agent":"","input":{"task":"","parent":',
    '{"step":,"text":"","toolCalls":[],"parts":[{"type":"reasoning","providerMetadata":',
    '"activeTools":[],"usage":{"inputTokens":,"outputTokens":,"cacheReadTokens":',
    '"finishReason":"stop","attempt":1,"modelId":"","transcriptSeq":',
    '{"step":,"callIndex":0,"tool":"","effect":"read-only"}',
    '{"step":,"callIndex":0,"tool":"","ok":false,"error":{"code":"","message":"',
    '{"step":,"callIndex":0,"tool":"","effect":"idempotent"}',
    '{"step":,"callIndex":0,"tool":"","ok":true,"output":{},"attempt":1}',
    '{"step":,"text":"","toolCalls":[{"callIndex":0,"tool":"","args":{},"id":"call',
    '}],"usage":{"inputTokens":,"outputTokens":},"finishReason":"tool-calls","attempt":1,',
    '"modelId":"","transcriptSeq":',
  ].join(''),
);

/**
 * Values below fastLevelFrom (every event of a few hundred bytes) are deflated by
 * fixed-deflate.ts, the same format for ~3x less time than zlib, whose cost on them is mostly
 * setting up its stream; larger ones (checkpoints) by zlib at level 2, as below.
 */
const smallDeflater = fixedDeflater(dictionary1);

/** Below this many characters a value is kept as text: deflate would save too little. */
const defaultPackFrom = 64;

/**
 * Zlib's output buffer: the default (16 KiB) costs more to allocate than a row takes to deflate;
 * larger values take several chunks.
 */
const chunkSize = 1024;

/**
 * Zlib's deflate window: the smallest that holds the dictionary and the value, so that nothing
 * it could match is out of reach (a small window and memLevel 4 also made zlib's setup a third
 * cheaper on events, when it still packed them). Any window up to 32 KiB is read back by the
 * default inflate, so the format byte stays 1.
 */
function windowBits(bytes: number): number {
  const reach = dictionary1.length + bytes;
  let bits = 11;
  while (bits < 15 && 1 << bits < reach) bits++;
  return bits;
}

/**
 * From this many bytes a value is deflated at level 2 instead of zlib's default 6: a checkpoint
 * (tens to hundreds of kB, rewritten every 64 events) then packs 2.3-2.8x faster for 5-6% more
 * bytes (289 kB: 1.04 -> 0.37 ms, 16.1 -> 17.0 kB; 60 kB: 0.21 -> 0.09 ms). An event of a few
 * hundred bytes costs the same at either level (setting up the stream is most of it), and is
 * smaller at 6. Inflate reads either, so the format byte stays 1.
 */
const fastLevelFrom = 8 * 1024;

/**
 * The text, or its packed bytes when they save at least an eighth; a text shorter than `from`
 * characters is kept as it is without trying.
 */
export function packJson(text: string, from = defaultPackFrom): string | Uint8Array {
  if (text.length < from) return text;
  const raw = Buffer.from(text, 'utf8');
  if (raw.length < fastLevelFrom) {
    const packed = smallDeflater.deflate(raw, deflatedWithDictionary1);
    return packed.length > raw.length - (raw.length >> 3) ? text : packed;
  }
  const deflated = deflateRawSync(raw, {
    dictionary: dictionary1,
    chunkSize,
    windowBits: windowBits(raw.length),
    memLevel: 4,
    level: 2,
  });
  if (deflated.length + 1 > raw.length - (raw.length >> 3)) return text;
  const packed = Buffer.allocUnsafe(deflated.length + 1);
  packed[0] = deflatedWithDictionary1;
  deflated.copy(packed, 1);
  return packed;
}

/**
 * The JSON text of a stored value: text as it is, packed bytes unpacked; null for bytes of a
 * format this longrun does not know (rows.ts says so with a typed error).
 */
export function unpackJson(stored: string | Uint8Array): string | null {
  if (typeof stored === 'string') return stored;
  if (stored[0] !== deflatedWithDictionary1) return null;
  const deflated = stored.subarray(1);
  return inflateRawSync(deflated, {
    dictionary: dictionary1,
    chunkSize: Math.min(64 * 1024, Math.max(chunkSize, deflated.length * 4)),
  }).toString('utf8');
}
