import { z } from 'zod';
import {
  LongrunError,
  newSessionId,
  requestHash,
  type BudgetSetter,
  type JsonValue,
  type SessionRecord,
} from '@longrun/core';
import { actor, json, type ApiContext } from '../api-context.ts';
import type { Caller } from '../route-table.ts';

import { forkSession, sessionFamily } from '@longrun/runtime';
import {
  CreateSessionBody,
  ForkBody,
  EventList,
  EventsQuery,
  ListSessionsQuery,
  SessionList,
  SessionParams,
  SessionResponse,
  SessionTree,
  StreamQuery,
} from '../schemas.ts';
import { readEventsBounded } from '../bounded-read.ts';
import { isSearch, searchSessions } from '../session-search.ts';
import { SessionStream } from '../sse-stream.ts';
import { withLineage } from '../session-lineage.ts';
import { sessionOf } from '../tenant-scope.ts';

const idempotencyKeyPattern = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;

function idempotencyKeyOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!idempotencyKeyPattern.test(header)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'the Idempotency-Key header must be 1–200 printable ASCII characters (a UUID is a good key)',
    );
  }
  return header;
}

/**
 * Who gives a creation budget, for the worker that applies it (the API may not know the agent's
 * own budget). Raising a budget is an admin's (a cap the key that runs the agent could lift would
 * not cap it), so any other role's budget only tightens the agent's; keyless, the caller is the
 * local admin.
 */
function budgetSetter(caller: Caller): BudgetSetter {
  return { by: actor(caller), mayRaise: caller.role === null || caller.role === 'admin' };
}

/** The input an agent session is created with: what `longrun run` gives the harness. */
function agentInput(body: z.output<typeof CreateSessionBody>): JsonValue {
  return body.input === undefined
    ? { task: body.message }
    : { task: body.message, input: body.input };
}

function lastEventId(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  if (!/^\d+$/.test(header.trim())) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `Last-Event-ID must be the seq of the last event received, in decimal digits (got ${JSON.stringify(header.slice(0, 40))})`,
    );
  }
  // Past 2^53 this rounds, but stays past the session's head, which `checkReadPosition` refuses.
  return Number(header.trim());
}

/**
 * Refuses a read position past the session's last event: no event has that seq, so the caller
 * never received it. Before, `GET …/events` answered an empty page, and a stream resumed there
 * skipped, silently, every event up to it; and 2^53 − 1 was refused as "not a decimal integer".
 */
function checkReadPosition(name: string, seq: number, record: SessionRecord): void {
  if (seq <= record.headSeq) return;
  throw new LongrunError(
    'INVALID_ARGUMENT',
    `${name} is ${seq}, past this session's last event (seq ${record.headSeq}): it must be the seq of an event you received from this session, at most ${record.headSeq}; resume from the last seq you received, or send 0 to read from the start`,
  );
}

export function sessionRoutes(ctx: ApiContext): void {
  createSessionRoute(ctx);
  forkRoute(ctx);
  listSessionsRoute(ctx);
  getSessionRoute(ctx);
  treeRoute(ctx);
  eventsRoute(ctx);
  streamRoute(ctx);
}

function createSessionRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions',
      summary: 'Create a session',
      description:
        "Starts an agent on a task. A `budget` from a key below admin only tightens the agent's own: each limit the agent sets is held to it (the worker records the result as budget.set by the key); an admin's may raise it. With an Idempotency-Key, retrying the same request returns the same session (200, Idempotent-Replayed: true); the same key with another body is 409 IDEMPOTENCY_CONFLICT.",
      auth: true,
      access: 'operate',
      body: CreateSessionBody,
      headers: [
        {
          name: 'Idempotency-Key',
          description: 'Makes the creation safe to retry; 1–200 printable ASCII characters.',
          schema: z.string().min(1).max(200),
        },
      ],
      responses: {
        201: { description: 'Created.', schema: SessionResponse },
        200: {
          description: 'A replay of an earlier request with the same Idempotency-Key and body.',
          schema: SessionResponse,
          headers: { 'Idempotent-Replayed': 'true' },
        },
      },
    },
    async ({ body, caller, request }) => {
      const key = idempotencyKeyOf(request.headers.get('idempotency-key') ?? undefined);
      if (body.tenant !== undefined && body.tenant !== caller.tenantId) {
        throw new LongrunError(
          'INVALID_ARGUMENT',
          `a session's tenant is the API key's (${caller.tenantId}), not ${JSON.stringify(body.tenant)}; nothing was created: use a key of the tenant you mean`,
        );
      }
      if (ctx.agents !== null && !ctx.agents.has(body.agent)) {
        const known = [...ctx.agents].slice(0, 20).join(', ') || 'none';
        throw new LongrunError(
          'INVALID_ARGUMENT',
          `unknown agent ${JSON.stringify(body.agent)}; this server runs: ${known}`,
        );
      }
      const id = newSessionId();
      const record = await store.createSession({
        id,
        tenantId: caller.tenantId,
        agent: body.agent,
        input: agentInput(body),
        ...(body.budget === undefined
          ? {}
          : { budget: body.budget, budgetSetBy: budgetSetter(caller) }),
        ...(key === undefined ? {} : { idempotencyKey: key, requestHash: requestHash(body) }),
      });
      const replayed = record.id !== id;
      if (!replayed) ctx.onSessionCreated?.(record.id);
      const session = await views.view(record);
      return replayed
        ? json(200, { session }, { 'idempotent-replayed': 'true' })
        : json(201, { session });
    },
  );
}

function forkRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/fork',
      summary: 'Fork a session: a new one whose log starts as a copy of this one up to a seq',
      description:
        'The fork folds to the same state, transcript and workspace (a manifest, not a copy of the files) at that seq, then goes its own way; the source is only read.',
      auth: true,
      access: 'operate',
      params: SessionParams,
      body: ForkBody,
      bodyOptional: true,
      responses: { 201: { description: 'The new session.', schema: SessionResponse } },
    },
    async ({ params, body, caller }) => {
      const source = await sessionOf(store, caller, params.id);
      const fork = await forkSession(store, source.id, {
        tenantId: caller.tenantId,
        ...(body.atSeq === undefined ? {} : { atSeq: body.atSeq }),
      });
      if (fork.status === 'queued') ctx.onSessionCreated?.(fork.id);
      return json(201, { session: await views.view(fork) });
    },
  );
}

function listSessionsRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions',
      summary: "List the tenant's sessions, newest first",
      auth: true,
      query: ListSessionsQuery,
      responses: {
        200: {
          description:
            'A page; `next` is the `after` of the next page. With `q`, `createdFrom` or `createdTo`, one request reads at most 2,000 sessions: a page may then hold fewer than `limit` and still have a `next`.',
          schema: SessionList,
        },
      },
    },
    async ({ query, caller }) => {
      const limit = query.limit ?? 50;
      const after =
        query.after === undefined ? undefined : await sessionOf(store, caller, query.after);
      const filters = {
        ...(query.status === undefined ? {} : { status: query.status }),
        ...(query.agent === undefined ? {} : { agent: query.agent }),
        ...(after === undefined ? {} : { afterId: after.id }),
      };
      if (isSearch(query)) {
        const { q, createdFrom, createdTo } = query;
        const request = { tenantId: caller.tenantId, limit, q, createdFrom, createdTo, ...filters };
        const found = await searchSessions(store, views, request);
        const sessions = await Promise.all(found.records.map((r) => views.view(r)));
        return json(200, { sessions, next: found.next });
      }
      const records = await store.listSessions({
        tenantId: caller.tenantId,
        newestFirst: true,
        limit: limit + 1,
        ...filters,
      });
      const page = records.slice(0, limit);
      const sessions = await Promise.all(page.map((r) => views.view(r)));
      const next = records.length > limit ? (page.at(-1)?.id ?? null) : null;
      return json(200, { sessions, next });
    },
  );
}

function getSessionRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id',
      summary: 'One session',
      auth: true,
      params: SessionParams,
      responses: { 200: { description: 'The session.', schema: SessionResponse } },
    },
    async ({ params, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      return json(200, { session: await views.view(record) });
    },
  );
}

function treeRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/tree',
      summary:
        "The session's parent and root (for a sub-agent's session) and the sub-agents it started",
      auth: true,
      params: SessionParams,
      responses: { 200: { description: 'Its place in the tree.', schema: SessionTree } },
    },
    async ({ params, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      const family = await ctx.wholeLogReads.run(() => sessionFamily(store, record.id));
      // Children share their parent's tenant; a listing never crosses tenants all the same.
      const children = [];
      for (const child of family.children) {
        const visible = await sessionOf(store, caller, child.sessionId).catch(() => null);
        if (visible !== null) children.push(child);
      }
      return json(200, { parent: family.parent, children });
    },
  );
}

/**
 * JSON characters of events one page holds at most (past its first event): one `limit=1000` page
 * of a log of large events was a gigabyte held per request.
 */
const eventPageChars = 1024 * 1024;

function eventsRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/events',
      summary: "A page of the session's durable events, in seq order",
      auth: true,
      params: SessionParams,
      query: EventsQuery,
      responses: {
        200: {
          description: `\`next\` is the \`after\` of the next page; null when this page was not full. A page also ends before \`limit\` events at about ${eventPageChars / 1024 / 1024} MiB of JSON (always holding one event), and then has a \`next\`.`,
          schema: EventList,
        },
      },
    },
    async ({ params, query, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      checkReadPosition('after', query.after ?? 0, record);
      const limit = query.limit ?? 200;
      const lineage = await ctx.lineages.of(record.id);
      const limits = { maxEvents: limit, maxChars: eventPageChars };
      const read = await readEventsBounded(store, record.id, query.after ?? 0, limits, (e) =>
        JSON.stringify(withLineage(e, lineage)),
      );
      const full = read.events.length === limit || !read.reachedEnd;
      const next = full ? (read.events.at(-1)?.seq ?? null) : null;
      // Joined from the events' JSON, each made once (the page can be megabytes).
      const body = `{"events":[${read.rendered.join(',')}],"next":${JSON.stringify(next)}}`;
      return new Response(body, {
        status: 200,
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
    },
  );
}

function streamRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/stream',
      summary: 'Server-Sent Events: state, every durable event after a seq, live token deltas',
      description:
        'Frames: `retry:` first; `session.state` (a SessionView) at connect and on status changes; durable events as `id: <seq>` / `event: <type>` / `data: <StoredEvent>`; live `model.delta` frames (no id); `: keepalive` comments. Resume with Last-Event-ID or ?after=.',
      auth: true,
      tokenInQuery: true,
      params: SessionParams,
      query: StreamQuery,
      headers: [
        {
          name: 'Last-Event-ID',
          description: 'Seq of the last event received; the stream resumes right after it.',
          schema: z.string(),
        },
      ],
      responses: {
        200: {
          description: 'An event stream.',
          schema: z.string(),
          contentType: 'text/event-stream',
        },
      },
    },
    async ({ params, query, caller, request }) => {
      const resumeAt = lastEventId(request.headers.get('last-event-id') ?? undefined);
      const record = await sessionOf(store, caller, params.id);
      const after = resumeAt ?? query.after ?? 0;
      checkReadPosition(resumeAt === undefined ? 'after' : 'Last-Event-ID', after, record);
      // HEAD gets the headers only: a stream whose body nobody reads would never be cleaned up.
      if (request.method === 'HEAD')
        return new Response(null, { headers: { 'content-type': 'text/event-stream' } });
      const stream = new SessionStream(
        ctx.stream,
        record,
        after,
        query.follow !== 'false',
        await ctx.lineages.of(record.id),
        caller.keyId,
      );
      return stream.open();
    },
  );
}
