import {
  LongrunError,
  type AppendResult,
  type EncodedAppend,
  type LeaseFence,
} from '@longrun/core';
import type { BatchOutcome } from './append-batcher.ts';
import { num, type Row } from './rows.ts';
import { appendBatchParams, appendParams, type PackedDatas, type Statements } from './sql.ts';
import { isConnectionError, translatePgError, type ServerTarget } from './translate-error.ts';

/** An append checked and encoded, waiting for its batch. */
export interface QueuedAppend {
  /** The injected time when the append was called, or null for the server's clock. */
  nowMs: number | null;
  fence: LeaseFence;
  expectedSeq: number;
  encoded: EncodedAppend;
  /** Its events' data as stored: packed when the append was called, not when its batch goes. */
  packed: PackedDatas;
}

/** Runs one named write statement (with the store's retry and error rules), returning its rows. */
export type RunWrite = (name: keyof Statements, values: unknown[]) => Promise<Row[]>;

const doing = 'appending events';

/**
 * One round trip for a batch of appends. A lone append runs append_events directly (the batch
 * function's subtransaction would only add latency); several go through append_batch_flat, which
 * reports each one's outcome: its head and time, or the error it raised inside its own
 * subtransaction, translated as if it had been raised alone. A failure of the round trip itself
 * (a dropped connection) rejects, and with it every append of the batch. A batch the server
 * refused as a whole for what it was sent (a data exception or a limit: one append's value it
 * cannot take) committed nothing, so its appends are sent again one at a time, in order, and each
 * settles on its own.
 */
export async function sendAppends(
  items: QueuedAppend[],
  write: RunWrite,
  target: ServerTarget,
): Promise<BatchOutcome<AppendResult>[]> {
  if (items.length === 1) {
    const { nowMs, fence, expectedSeq, encoded, packed } = items[0] as QueuedAppend;
    const rows = await write('append', appendParams(nowMs, fence, expectedSeq, encoded, packed));
    return [{ ok: true, value: appendResult(encoded, rows[0]) }];
  }
  let rows: Row[];
  try {
    rows = await write('appendBatch', appendBatchParams(items));
  } catch (error) {
    if (!refusedForItsValues(error)) throw error;
    return sendOneByOne(items, write, target);
  }
  return items.map((q, i) => {
    const row = rows[i];
    if (row === undefined || num(row.ord, 'ord') !== i + 1) {
      const counts = `${items.length} appends, ${rows.length} rows`;
      throw new LongrunError('INTERNAL', `append_batch_flat answered out of order (${counts})`);
    }
    if (row.error_code === null) return { ok: true, value: appendResult(q.encoded, row) };
    const raised = Object.assign(new Error(String(row.error_message)), {
      code: row.error_code,
      detail: row.error_detail,
    });
    return { ok: false, error: translatePgError(raised, doing, target) };
  });
}

/**
 * Each append on its own statement, in order; each settles as it would have alone. Once the
 * connection fails, the appends after the one it failed are not sent and fail with it.
 */
async function sendOneByOne(
  items: QueuedAppend[],
  write: RunWrite,
  target: ServerTarget,
): Promise<BatchOutcome<AppendResult>[]> {
  const outcomes: BatchOutcome<AppendResult>[] = [];
  let lost: unknown;
  for (const item of items) {
    if (lost !== undefined) {
      outcomes.push({ ok: false, error: lost });
      continue;
    }
    try {
      outcomes.push(...(await sendAppends([item], write, target)));
    } catch (error) {
      outcomes.push({ ok: false, error });
      if (isConnectionError(causeOf(error))) lost = error;
    }
  }
  return outcomes;
}

function causeOf(error: unknown): unknown {
  return error instanceof LongrunError ? error.cause : error;
}

/**
 * The server answered the statement with a data exception (SQLSTATE class 22) or a program limit
 * (54) and so rolled it back: the values it was sent, not the connection or the server, failed.
 */
function refusedForItsValues(error: unknown): boolean {
  const cause = causeOf(error);
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code !== 'string' || isConnectionError(cause)) return false;
  return code.startsWith('22') || code.startsWith('54');
}

function appendResult(encoded: EncodedAppend, row: Row | undefined): AppendResult {
  return { headSeq: encoded.newHeadSeq, atMs: num(row?.at_ms, 'at_ms') };
}

/** Roughly what an append sends, for the batch byte budget: its payloads plus some framing. */
export function approximateBytes(a: EncodedAppend): number {
  let bytes = 256 + (a.checkpoint?.state.length ?? 0);
  for (const part of a.checkpoint?.parts?.add ?? []) bytes += 16 + part.value.length;
  for (const e of a.events) bytes += 32 + e.data.length;
  return bytes + 128 * a.effects.length;
}
