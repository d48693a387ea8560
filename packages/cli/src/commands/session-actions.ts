import { hostname, userInfo } from 'node:os';
import { LongrunError, type SessionId, type SessionStore, type StoredEvent } from '@longrun/core';
import { approvalSignal, cancelSignal, userMessageSignal } from '@longrun/runtime';
import { describeEvent } from '../event-lines.ts';

export function whoAmI(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `cli@${hostname()}`;
  }
}

/** Approvals requested and not yet decided, from the log. */
export function pendingApprovals(events: readonly StoredEvent[]) {
  const decided = new Set(
    events
      .filter((e) => e.type === 'approval.granted' || e.type === 'approval.denied')
      .map((e) => (e.data as { approvalId: string }).approvalId),
  );
  return events.flatMap((e) =>
    e.type === 'approval.requested' && !decided.has(e.data.approvalId) ? [e.data] : [],
  );
}

/** Sends a person's decision on an approval, bound to the arguments hash the request named. */
export async function decideApproval(
  store: SessionStore,
  id: SessionId,
  approvalId: string | undefined,
  decision: 'granted' | 'denied',
  reason: string | null,
): Promise<string> {
  const pending = pendingApprovals(await store.readEvents(id, 0, 1_000_000));
  const target =
    approvalId === undefined && pending.length === 1
      ? pending[0]
      : pending.find((p) => p.approvalId === approvalId);
  if (target === undefined) {
    const list = pending.map((p) => `${p.approvalId} (${p.tool})`).join(', ') || 'none';
    throw new LongrunError(
      'NOT_FOUND',
      `no pending approval ${approvalId ?? '(give its id)'} in session ${id}; pending: ${list}`,
    );
  }
  await store.sendSignal(id, approvalSignal(target.approvalId), {
    decision,
    by: whoAmI(),
    reason,
    argsHash: target.argsHash,
  });
  return `${decision} ${target.approvalId} (${target.tool}); the session resumes when a worker picks it up`;
}

export async function cancelSession(
  store: SessionStore,
  id: SessionId,
  reason: string | null,
): Promise<string> {
  await store.getSession(id);
  await store.sendSignal(id, cancelSignal, { by: whoAmI(), reason }, { wake: 'interrupt' });
  return `cancel requested for ${id}; a worker records it at the next step boundary`;
}

export async function addMessage(
  store: SessionStore,
  id: SessionId,
  text: string,
): Promise<string> {
  await store.sendSignal(id, userMessageSignal, { text }, { wake: 'reopen' });
  return `message added to ${id}`;
}

/**
 * Prints a session's events from the start, then follows new ones until the session ends. Durable
 * tokens (`model.streamed`) are printed too, each once: reads go by seq, never by time.
 */
export async function tail(
  store: SessionStore,
  id: SessionId,
  json: boolean,
  write: (line: string) => void,
): Promise<void> {
  let seq = 0;
  for (;;) {
    const events = await store.readEvents(id, seq, 1_000);
    for (const e of events) {
      seq = e.seq;
      if (json) write(JSON.stringify(e));
      else if (e.type === 'model.streamed')
        write(`seq ${String(e.seq).padStart(4)}  … ${e.data.text}`);
      else {
        const line = describeEvent(e);
        if (line !== null) write(line);
      }
    }
    if (events.length > 0) continue;
    const session = await store.getSession(id);
    if (['completed', 'failed', 'cancelled'].includes(session.status) && session.headSeq <= seq)
      return;
    await new Promise((r) => setTimeout(r, 200));
  }
}
