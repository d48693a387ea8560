// The dashboard's only door to the server: JSON over fetch, the API key from key-store, and the
// contract's error body turned into an ApiError. A 401 asks for a key before it is thrown.
import type {
  Approval,
  ApprovalDetail,
  BudgetChangeBody,
  Health,
  SessionStatus,
  SessionTreeView,
  SessionView,
  WorkspaceDiff,
  WorkspaceListing,
} from './api-types.ts';

export class ApiError extends Error {
  readonly status: number;
  /** The LongrunError code from the body, or HTTP_<status> when the body had none. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export interface ApiClientOptions {
  getKey(): string | null;
  /** Called on every 401, before the ApiError is thrown. */
  onUnauthorized(): void;
}

export interface SessionFilter {
  status?: SessionStatus | undefined;
  agent?: string | undefined;
  limit?: number;
  after?: string | null;
  /** Text the id or the task contains. */
  q?: string | undefined;
  /** Inclusive bounds on the creation time, epoch ms. */
  createdFrom?: number | null | undefined;
  createdTo?: number | null | undefined;
}

export interface FileContent {
  /** The file as text, or null when it is not UTF-8 text. */
  text: string | null;
  bytes: number;
}

const enc = encodeURIComponent;
/** Approvals the inbox page shows at once. */
const inboxPageSize = 200;

export class ApiClient {
  readonly #options: ApiClientOptions;

  constructor(options: ApiClientOptions) {
    this.#options = options;
  }

  health(): Promise<Health> {
    return this.#json('GET', '/v1/health');
  }

  listSessions(filter: SessionFilter): Promise<{ sessions: SessionView[]; next: string | null }> {
    const query = new URLSearchParams();
    if (filter.status !== undefined) query.set('status', filter.status);
    if (filter.agent !== undefined && filter.agent !== '') query.set('agent', filter.agent);
    query.set('limit', String(filter.limit ?? 50));
    if (filter.after != null) query.set('after', filter.after);
    if (filter.q !== undefined && filter.q !== '') query.set('q', filter.q);
    if (filter.createdFrom != null) query.set('createdFrom', String(filter.createdFrom));
    if (filter.createdTo != null) query.set('createdTo', String(filter.createdTo));
    return this.#json('GET', `/v1/sessions?${query.toString()}`);
  }

  sessionTree(id: string): Promise<SessionTreeView> {
    return this.#json('GET', `/v1/sessions/${enc(id)}/tree`);
  }

  async getSession(id: string): Promise<SessionView> {
    return (await this.#json<{ session: SessionView }>('GET', `/v1/sessions/${enc(id)}`)).session;
  }

  async createSession(agent: string, message: string): Promise<SessionView> {
    const body = { agent, message };
    return (await this.#json<{ session: SessionView }>('POST', '/v1/sessions', body)).session;
  }

  async sendMessage(id: string, text: string): Promise<SessionView> {
    const path = `/v1/sessions/${enc(id)}/messages`;
    return (await this.#json<{ session: SessionView }>('POST', path, { text })).session;
  }

  async cancel(id: string, reason: string | null): Promise<SessionView> {
    const path = `/v1/sessions/${enc(id)}/cancel`;
    const body = reason === null ? {} : { reason };
    return (await this.#json<{ session: SessionView }>('POST', path, body)).session;
  }

  async resume(id: string, reason: string | null): Promise<SessionView> {
    const path = `/v1/sessions/${enc(id)}/resume`;
    const body = reason === null ? {} : { reason };
    return (await this.#json<{ session: SessionView }>('POST', path, body)).session;
  }

  /** Changes the budget; a session paused for BUDGET_EXCEEDED is resumed by it. */
  async changeBudget(id: string, budget: BudgetChangeBody): Promise<SessionView> {
    const path = `/v1/sessions/${enc(id)}/budget`;
    return (await this.#json<{ session: SessionView }>('POST', path, { budget })).session;
  }

  /** The oldest pending approvals, as many as the inbox shows; `more` when others are pending too. */
  async listApprovals(): Promise<{ approvals: Approval[]; more: boolean }> {
    const body = await this.#json<{ approvals: Approval[]; truncated: boolean }>(
      'GET',
      `/v1/approvals?limit=${inboxPageSize}`,
    );
    return { approvals: body.approvals, more: body.truncated };
  }

  /** A pending approval with its whole arguments (the inbox may show only part of them). */
  approvalDetail(sessionId: string, approvalId: string): Promise<ApprovalDetail> {
    return this.#json('GET', `/v1/sessions/${enc(sessionId)}/approvals/${enc(approvalId)}`);
  }

  async decide(
    sessionId: string,
    approvalId: string,
    decision: 'approve' | 'deny',
    reason: string | null,
    scope: 'call' | 'arguments' | 'tool' = 'call',
  ): Promise<void> {
    const path = `/v1/sessions/${enc(sessionId)}/approvals/${enc(approvalId)}`;
    await this.#json('POST', path, {
      decision,
      ...(reason === null ? {} : { reason }),
      // A scope reaches past the call only for a grant; a deny decides this call.
      ...(decision === 'approve' && scope !== 'call' ? { scope } : {}),
    });
  }

  listFiles(id: string): Promise<WorkspaceListing> {
    return this.#json('GET', `/v1/sessions/${enc(id)}/files`);
  }

  /** What the latest snapshot changed (against the one before it), with text patches. */
  workspaceDiff(id: string): Promise<WorkspaceDiff> {
    return this.#json('GET', `/v1/sessions/${enc(id)}/files/diff?patches=true`);
  }

  async fileContent(id: string, path: string): Promise<FileContent> {
    const response = await this.#send(
      'GET',
      `/v1/sessions/${enc(id)}/files/content?path=${enc(path)}`,
    );
    const bytes = new Uint8Array(await response.arrayBuffer());
    const isText = (response.headers.get('content-type') ?? '').startsWith('text/');
    return { text: isText ? new TextDecoder().decode(bytes) : null, bytes: bytes.length };
  }

  /** The SSE URL; EventSource cannot send headers, so a key rides as `access_token`. */
  streamUrl(id: string, afterSeq: number): string {
    const query = new URLSearchParams();
    if (afterSeq > 0) query.set('after', String(afterSeq));
    const key = this.#options.getKey();
    if (key !== null) query.set('access_token', key);
    const suffix = query.size > 0 ? `?${query.toString()}` : '';
    return `/v1/sessions/${enc(id)}/stream${suffix}`;
  }

  async #json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.#send(method, path, body);
    return (await response.json()) as T;
  }

  async #send(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    const key = this.#options.getKey();
    if (key !== null) headers.authorization = `Bearer ${key}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init: RequestInit = { method, headers };
    if (body !== undefined) init.body = JSON.stringify(body);
    let response: Response;
    try {
      response = await fetch(path, init);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, 'UNREACHABLE', `the server did not answer (${reason}); is it running?`);
    }
    if (response.ok) return response;
    if (response.status === 401) this.#options.onUnauthorized();
    throw await errorOf(response);
  }
}

async function errorOf(response: Response): Promise<ApiError> {
  const fallback = `${response.status} ${response.statusText}`.trim();
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
    const code = typeof body.error?.code === 'string' ? body.error.code : `HTTP_${response.status}`;
    const message = typeof body.error?.message === 'string' ? body.error.message : fallback;
    return new ApiError(response.status, code, message);
  } catch {
    return new ApiError(response.status, `HTTP_${response.status}`, fallback);
  }
}

export function describeError(error: unknown): string {
  if (error instanceof ApiError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
