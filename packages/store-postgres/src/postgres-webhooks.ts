import { randomUUID } from 'node:crypto';
import {
  LongrunError,
  checkFence,
  checkNewWebhookToken,
  checkTokenHash,
  encodePayload,
  refuseIfGone,
  sessionId as toSessionId,
  webhookSignal,
  type JsonValue,
  type LeaseFence,
  type NewWebhookToken,
  type SessionStatus,
  type Signal,
  type WebhookRecord,
  type WebhookStore,
} from '@longrun/core';
import type { PostgresAccess } from './postgres-access.ts';
import { num, type Row } from './rows.ts';

function toHook(row: Row): WebhookRecord {
  return {
    hookId: row.hook_id as string,
    multiUse: row.multi_use === true,
    expiresAtMs: row.expires_at_ms === null ? null : num(row.expires_at_ms, 'expires_at_ms'),
    deliveries: num(row.deliveries, 'deliveries'),
  };
}

/** Webhooks in the store's schema; a delivery is one statement (`deliver_webhook`). */
export class PostgresWebhooks implements WebhookStore {
  readonly #db: PostgresAccess;

  constructor(access: PostgresAccess) {
    this.#db = access;
  }

  async register(fence: LeaseFence, token: NewWebhookToken): Promise<WebhookRecord> {
    const f = checkFence(fence);
    const t = checkNewWebhookToken(token);
    const rows = await this.#db.write('registering a webhook', 'registerWebhook', [
      this.#db.nowParam(),
      f.sessionId,
      f.owner,
      f.epoch,
      t.hookId,
      t.tokenHash,
      t.multiUse,
      t.expiresAtMs,
    ]);
    const row = rows[0];
    if (row === undefined) throw new LongrunError('INTERNAL', 'register_webhook returned no hook');
    return toHook(row);
  }

  async deliver(tokenHash: string, payload: JsonValue): Promise<Signal> {
    const hash = checkTokenHash(tokenHash);
    const encoded = encodePayload(payload, 'webhook payload');
    const id = `sig_${randomUUID().replaceAll('-', '')}`;
    const rows = await this.#db.write('delivering a webhook', 'deliverWebhook', [
      this.#db.nowParam(),
      hash,
      id,
      encoded,
    ]);
    const row = rows[0];
    if (row === undefined) throw new LongrunError('INTERNAL', 'deliver_webhook returned nothing');
    const now = num(row.r_now, 'r_now');
    if (row.r_delivered !== true) {
      const hook = toHook({
        hook_id: row.r_hook,
        multi_use: row.r_multi,
        expires_at_ms: row.r_expires,
        deliveries: row.r_deliveries,
      });
      refuseIfGone(hook, row.r_status as SessionStatus, now);
      throw new LongrunError('INTERNAL', 'deliver_webhook refused a delivery for no known reason');
    }
    const hookId = row.r_hook as string;
    return {
      id,
      sessionId: toSessionId(row.r_session),
      name: webhookSignal(hookId),
      payload,
      createdAtMs: now,
    };
  }
}
