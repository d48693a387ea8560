import { randomUUID } from 'node:crypto';
import {
  LongrunError,
  checkFence,
  checkNewWebhookToken,
  checkTokenHash,
  encodePayload,
  refuseIfGone,
  webhookSignalPrefix,
  type JsonValue,
  type LeaseFence,
  type NewWebhookToken,
  type SessionStatus,
  type Signal,
  type WebhookRecord,
  type WebhookStore,
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';

/** Webhooks in the SQLite file; both writes run on the writer thread (sqlite-webhook-writes.ts). */
export class SqliteWebhooks implements WebhookStore {
  readonly #db: SqliteAccess;

  constructor(access: SqliteAccess) {
    this.#db = access;
  }

  async register(fence: LeaseFence, token: NewWebhookToken): Promise<WebhookRecord> {
    const w = { fence: checkFence(fence), token: checkNewWebhookToken(token) };
    return this.#db.write('registerWebhook', { ...w, nowMs: this.#db.nowMs() });
  }

  async deliver(tokenHash: string, payload: JsonValue): Promise<Signal> {
    const hash = checkTokenHash(tokenHash);
    const encoded = encodePayload(payload, 'webhook payload');
    const signalId = `sig_${randomUUID().replaceAll('-', '')}`;
    const nowMs = this.#db.nowMs();
    const outcome = await this.#db.write('deliverWebhook', {
      tokenHash: hash,
      signalId,
      signalPrefix: webhookSignalPrefix,
      payload: encoded,
      nowMs,
    });
    if (outcome === null) throw new LongrunError('NOT_FOUND', 'no webhook has this token');
    if (!outcome.delivered) {
      refuseIfGone(outcome.hook, outcome.status as SessionStatus, nowMs);
      throw new LongrunError('INTERNAL', 'a webhook delivery was refused for no known reason');
    }
    return {
      id: signalId,
      sessionId: outcome.sessionId,
      name: `${webhookSignalPrefix}${outcome.hook.hookId}`,
      payload,
      createdAtMs: nowMs,
    };
  }
}
