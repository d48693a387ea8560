import { setTimeout as sleep } from 'node:timers/promises';
import {
  requestHash,
  sessionId,
  terminalStatuses,
  type BudgetChange,
  type JsonValue,
  type SessionId,
  type SessionRecord,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import {
  cancelSession,
  changeBudget,
  decideApproval,
  sendMessage,
  signalSession,
} from '@longrun/runtime';
import type { DecisionOptions, SessionInfo, StartInput, StartOptions } from './client-types.ts';
import { agentInput, type Transport } from './session-handle.ts';

const pageSize = 500;

export interface StoreTransportOptions {
  store: SessionStore;
  /** Who decides approvals and cancels, as the log records it (default `client`). */
  actor?: string;
  /** How often a follower looks for new events when it has caught up (default 100 ms). */
  pollMs?: number;
}

/** Sessions in a store this process opened: the same calls the CLI and the API make. */
export class StoreTransport implements Transport {
  readonly #store: SessionStore;
  readonly #actor: string;
  readonly #pollMs: number;

  constructor(options: StoreTransportOptions) {
    this.#store = options.store;
    this.#actor = options.actor ?? 'client';
    this.#pollMs = options.pollMs ?? 100;
  }

  async create(agent: string, input: StartInput, options: StartOptions): Promise<SessionInfo> {
    const data = agentInput(input);
    const record = await this.#store.createSession({
      agent,
      input: data,
      ...(options.tenant === undefined ? {} : { tenantId: options.tenant }),
      // A process that opened the store itself is its local admin: its budget may raise.
      ...(options.budget === undefined
        ? {}
        : { budget: options.budget, budgetSetBy: { by: this.#actor, mayRaise: true } }),
      ...(options.idempotencyKey === undefined
        ? {}
        : {
            idempotencyKey: options.idempotencyKey,
            requestHash: requestHash({
              agent,
              input: data,
              ...(options.budget === undefined ? {} : { budget: options.budget }),
            }),
          }),
    });
    return info(record);
  }

  async session(id: string): Promise<SessionInfo> {
    return info(await this.#store.getSession(sessionId(id)));
  }

  async *follow(
    id: SessionId,
    options: { after: number; untilEnd: boolean; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent> {
    let after = options.after;
    while (options.signal?.aborted !== true) {
      const page = await this.#store.readEvents(id, after, pageSize);
      for (const e of page) {
        after = e.seq;
        yield e;
      }
      if (page.length === pageSize) continue;
      if (options.untilEnd) {
        const now = await this.#store.getSession(id);
        if (terminalStatuses.includes(now.status) && now.headSeq <= after) return;
      }
      await sleep(this.#pollMs, undefined, { signal: options.signal }).catch(() => undefined);
    }
  }

  async signal(id: SessionId, name: string, payload: JsonValue): Promise<void> {
    await signalSession(this.#store, id, name, payload);
  }

  async message(id: SessionId, text: string): Promise<void> {
    await sendMessage(this.#store, id, text);
  }

  async decide(
    id: SessionId,
    decision: 'approve' | 'deny',
    options: DecisionOptions,
  ): Promise<void> {
    await decideApproval(this.#store, id, {
      ...(options.approvalId === undefined ? {} : { approvalId: options.approvalId }),
      decision: decision === 'approve' ? 'granted' : 'denied',
      by: this.#actor,
      reason: options.reason ?? null,
      ...(options.scope === undefined ? {} : { scope: options.scope }),
    });
  }

  async budget(id: SessionId, change: BudgetChange, reason: string | null): Promise<void> {
    await changeBudget(this.#store, id, { by: this.#actor, reason, change });
  }

  async cancel(id: SessionId, reason: string | null): Promise<void> {
    await cancelSession(this.#store, id, { by: this.#actor, reason });
  }
}

function info(record: SessionRecord): SessionInfo {
  const { id, tenantId, agent, status, statusReason, headSeq } = record;
  return { id, tenantId, agent, status, statusReason, headSeq };
}
