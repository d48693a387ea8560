import { hostname, userInfo } from 'node:os';
import type { ApprovalScope, SessionId, SessionStore } from '@longrun/core';
import { cancelSession, decideApproval, resumeSession, sendMessage } from '@longrun/runtime';

export function whoAmI(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `cli@${hostname()}`;
  }
}

/** Sends a person's decision on an approval (the shared session command), and says what it did. */
export async function decide(
  store: SessionStore,
  id: SessionId,
  approvalId: string | undefined,
  decision: 'granted' | 'denied',
  reason: string | null,
  scope: ApprovalScope = 'call',
): Promise<string> {
  const target = await decideApproval(store, id, {
    ...(approvalId === undefined ? {} : { approvalId }),
    decision,
    by: whoAmI(),
    reason,
    scope,
  });
  const what = target.tool ?? `the model call of step ${target.step}`;
  const reach =
    scope === 'tool'
      ? `; every later ${target.tool ?? ''} call of the session is granted too`
      : scope === 'arguments'
        ? `; every later ${target.tool ?? ''} call with the same arguments is granted too`
        : '';
  return `${decision} ${target.approvalId} (${what})${reach}; the session resumes when a worker picks it up`;
}

export async function cancel(
  store: SessionStore,
  id: SessionId,
  reason: string | null,
): Promise<string> {
  await cancelSession(store, id, { by: whoAmI(), reason });
  return `cancel requested for ${id}; a worker records it at the next step boundary`;
}

export async function resume(
  store: SessionStore,
  id: SessionId,
  reason: string | null,
): Promise<string> {
  await resumeSession(store, id, { by: whoAmI(), reason });
  return `resume requested for ${id}; the next worker that claims it runs it again`;
}

export async function addMessage(
  store: SessionStore,
  id: SessionId,
  text: string,
): Promise<string> {
  await sendMessage(store, id, text);
  return `message added to ${id}`;
}
