import type { JsonValue } from '@longrun/core';
import { planTask, type AttackPlan } from './attack-plan.ts';

/** What the tests read of `GET /v1/sessions/:id/events`: enough to judge each tool call. */
export interface ApiEvent {
  seq: number;
  type: string;
  atMs: number;
  data: Record<string, JsonValue | undefined>;
}

export interface ToolOutcome {
  seq: number;
  atMs: number;
  tool: string;
  ok: boolean;
  errorCode: string | undefined;
  output: string;
}

const requestTimeoutMs = 10_000;

async function api<T>(url: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(requestTimeoutMs),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status} ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

export async function startAttack(url: string, agent: string, plan: AttackPlan): Promise<string> {
  const { session } = await api<{ session: { id: string } }>(url, '/v1/sessions', {
    agent,
    message: planTask(plan),
  });
  return session.id;
}

export async function sendMessage(url: string, id: string, text: string): Promise<void> {
  await api(url, `/v1/sessions/${id}/messages`, { text });
}

interface SessionView {
  status: string;
  statusReason: string | null;
  headSeq: number;
}

export function sessionView(url: string, id: string): Promise<SessionView> {
  return api<{ session: SessionView }>(url, `/v1/sessions/${id}`).then((r) => r.session);
}

/**
 * Waits until the session has ended (completed, failed or cancelled) with its log past `afterSeq`;
 * returns its view, or 'timeout' after `timeoutMs` (a poll that fails or times out is retried).
 */
export async function waitForEnd(
  url: string,
  id: string,
  timeoutMs: number,
  afterSeq = 0,
): Promise<SessionView | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    // A worker too busy to answer in time is for the vitals to report: keep polling.
    const view = await sessionView(url, id).catch(() => null);
    const ended = view !== null && ['completed', 'failed', 'cancelled'].includes(view.status);
    if (ended && view.headSeq > afterSeq) return view;
    await new Promise((r) => setTimeout(r, 50));
  }
  return 'timeout';
}

/** Every event of the session, page by page (at most 100 pages). */
export async function readEvents(url: string, id: string): Promise<ApiEvent[]> {
  const events: ApiEvent[] = [];
  let after = 0;
  for (let page = 0; page < 100; page++) {
    const got = await api<{ events: ApiEvent[]; next: number | null }>(
      url,
      `/v1/sessions/${id}/events?after=${after}&limit=1000`,
    );
    events.push(...got.events);
    if (got.next === null) return events;
    after = got.next;
  }
  throw new Error(`session ${id} has more than 100 pages of events`);
}

export function toolOutcomes(events: readonly ApiEvent[]): ToolOutcome[] {
  return events
    .filter((e) => e.type === 'tool.completed')
    .map((e) => ({
      seq: e.seq,
      atMs: e.atMs,
      tool: typeof e.data.tool === 'string' ? e.data.tool : '',
      ok: e.data.ok === true,
      errorCode: typeof e.data.errorCode === 'string' ? e.data.errorCode : undefined,
      output: typeof e.data.output === 'string' ? e.data.output : JSON.stringify(e.data.output),
    }));
}

/** The model's last words: the attacker ends by listing `tool:CODE` for each result it saw. */
export function finalText(events: readonly ApiEvent[]): string {
  const last = events.filter((e) => e.type === 'model.responded').at(-1);
  return typeof last?.data.text === 'string' ? last.data.text : '';
}

/** Runs a plan to its end and returns its events; throws when it does not end in `timeoutMs`. */
export async function runAttack(
  url: string,
  agent: string,
  plan: AttackPlan,
  timeoutMs = 60_000,
): Promise<{ id: string; status: string; events: ApiEvent[] }> {
  const id = await startAttack(url, agent, plan);
  const view = await waitForEnd(url, id, timeoutMs);
  if (view === 'timeout') throw new Error(`attack session ${id} did not end in ${timeoutMs} ms`);
  return { id, status: view.status, events: await readEvents(url, id) };
}
