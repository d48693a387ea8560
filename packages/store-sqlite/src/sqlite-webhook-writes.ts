import type { LeaseFence, NewWebhookToken, SessionId, WebhookRecord } from '@longrun/core';
import { sql as storeSql } from './sql.ts';
import { fencedRow, type WriterDb } from './writer-db.ts';

/** The statements of the webhook tables (read here too, by the store). */
export const webhookSql = {
  insertHook: `INSERT INTO webhooks (session_id, hook_id, multi_use, expires_at_ms, created_at_ms)
    VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, hook_id) DO NOTHING`,
  insertToken: `INSERT INTO webhook_tokens (token_hash, session_id, hook_id, created_at_ms)
    VALUES (?, ?, ?, ?) ON CONFLICT (token_hash) DO NOTHING`,
  hook: `SELECT * FROM webhooks WHERE session_id = ? AND hook_id = ?`,
  byToken: `SELECT w.*, s.status FROM webhook_tokens t
    JOIN webhooks w ON w.session_id = t.session_id AND w.hook_id = t.hook_id
    JOIN sessions s ON s.id = t.session_id
    WHERE t.token_hash = ?`,
  countDelivery: `UPDATE webhooks SET deliveries = deliveries + 1 WHERE session_id = ? AND hook_id = ?`,
} as const;

export function toHook(row: Record<string, unknown>): WebhookRecord {
  const expires = row.expires_at_ms as number | null;
  return {
    hookId: row.hook_id as string,
    multiUse: Number(row.multi_use) === 1,
    expiresAtMs: expires === null ? null : Number(expires),
    deliveries: Number(row.deliveries),
  };
}

/** What a delivery found: the hook as it was, its session's status, and whether it delivered. */
export interface DeliveryOutcome {
  sessionId: SessionId;
  hook: WebhookRecord;
  status: string;
  delivered: boolean;
}

const ended = ['completed', 'failed', 'cancelled'];

/**
 * The webhook writes, as the writer thread runs them (no @longrun/core values here: the caller
 * passes the signal prefix and words a refusal with core's refuseIfGone). Writes are serial, so
 * a delivery's check and count are one step: of two deliveries to a single-use hook, one wins.
 */
export const webhookWrites = {
  registerWebhook(
    db: WriterDb,
    w: { fence: LeaseFence; token: NewWebhookToken; nowMs: number },
  ): WebhookRecord {
    const { fence: f, token: t, nowMs } = w;
    fencedRow(db, f);
    db.stmt(webhookSql.insertHook).run(
      f.sessionId,
      t.hookId,
      t.multiUse ? 1 : 0,
      t.expiresAtMs,
      nowMs,
    );
    db.stmt(webhookSql.insertToken).run(t.tokenHash, f.sessionId, t.hookId, nowMs);
    return toHook(db.stmt(webhookSql.hook).get(f.sessionId, t.hookId) as Record<string, unknown>);
  },

  /** Null: no hook has this token. */
  deliverWebhook(
    db: WriterDb,
    w: {
      tokenHash: string;
      signalId: string;
      signalPrefix: string;
      payload: string;
      nowMs: number;
    },
  ): DeliveryOutcome | null {
    const row = db.stmt(webhookSql.byToken).get(w.tokenHash);
    if (row === undefined) return null;
    const hook = toHook(row);
    const status = row.status as string;
    const sessionId = row.session_id as SessionId;
    const delivered =
      (hook.expiresAtMs === null || hook.expiresAtMs > w.nowMs) &&
      (hook.multiUse || hook.deliveries === 0) &&
      !ended.includes(status);
    if (delivered) {
      const name = `${w.signalPrefix}${hook.hookId}`;
      db.stmt(webhookSql.countDelivery).run(sessionId, hook.hookId);
      db.stmt(storeSql.insertSignal).run(w.signalId, sessionId, name, w.payload, w.nowMs);
      db.stmt(storeSql.wakeForSignal).run(w.nowMs, sessionId, name, 'if-waiting-for-it');
    }
    return { sessionId, hook, status, delivered };
  },
};
