import { json, type ApiContext } from '../api-context.ts';
import { openApiDocument } from '../openapi.ts';
import { AgentList, Figures, Health, Ready, TenantUsage, UsageQuery } from '../schemas.ts';
import { z } from 'zod';

export function systemRoutes(ctx: ApiContext): void {
  healthRoute(ctx);
  readyRoute(ctx);
  agentsRoute(ctx);
  figuresRoute(ctx);
  usageRoute(ctx);
  openApiRoute(ctx);
  metricsRoute(ctx);
}

/**
 * Prometheus' scrape. Without a key, like health: Prometheus scrapes with none, and nothing in it
 * is a tenant's — aggregate counts over every tenant, labelled only with names the deployment
 * configures (statuses, models, tools that ran), never a session, tenant, input or output.
 */
function metricsRoute(ctx: ApiContext): void {
  const { metrics } = ctx;
  if (metrics === undefined) return;
  ctx.routes.add(
    {
      method: 'get',
      path: '/metrics',
      summary:
        "This process's metrics in the Prometheus text format: GenAI token usage and durations, sessions by status, claim queue, takeovers, recovery time, append stalls, sandbox pool, budget spend",
      auth: false,
      responses: {
        200: {
          description: 'The Prometheus text exposition format, version 0.0.4.',
          contentType: 'text/plain',
          schema: z.string(),
        },
      },
    },
    async () =>
      new Response(await metrics.prometheusText(), {
        status: 200,
        headers: { 'content-type': metrics.contentType },
      }),
  );
}

/**
 * A caller with an API key sees its own tenant's streams: the whole server's would tell each
 * tenant how many streams the others read. Every key role is a tenant's (`admin` administers its
 * tenant, not the server), so no key sees the server's; a server without keys serves its local
 * user alone, who does. So do an in-process worker's counts and sandbox pool (every tenant's
 * work): a key is not shown them. The connections are the HTTP server's, shown to every caller.
 */
function figuresRoute(ctx: ApiContext): void {
  ctx.routes.add(
    {
      method: 'get',
      path: '/v1/figures',
      summary:
        "Operational figures: the caller's tenant's stream feeds and readers (the whole server's without keys, with the stream caps and buffered bytes); the server's connections; without keys and with an in-process worker, its counts and sandbox pool (size, ready, in use, queued, provisioning latency)",
      auth: true,
      responses: { 200: { description: 'Figures by part.', schema: Figures } },
    },
    async ({ caller }) => json(200, ctx.figures(caller.role === null ? null : caller.tenantId)),
  );
}

function healthRoute(ctx: ApiContext): void {
  const { routes } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/health',
      summary: 'Liveness, and whether the server wants API keys',
      auth: false,
      responses: { 200: { description: 'The server answers.', schema: Health } },
    },
    async () => json(200, { ok: true, auth: ctx.auth, version: ctx.version }),
  );
}

/** How long /v1/ready waits for the store's answer. */
const readyTimeoutMs = 2_000;

function readyRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/ready',
      summary: 'Readiness: the store answers',
      auth: false,
      responses: {
        200: { description: 'Ready.', schema: Ready },
        503: { description: 'The store does not answer.', schema: Ready },
      },
    },
    async () => {
      // A round trip to the database, bounded: a server that does not answer (a black-holed
      // network, an outage) makes this node not ready within the bound instead of hanging.
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('no answer')), readyTimeoutMs);
      });
      try {
        await Promise.race([store.ping(), timedOut]);
        return json(200, { ready: true, store: store.kind });
      } catch {
        return json(503, { ready: false, store: store.kind });
      } finally {
        clearTimeout(timer);
      }
    },
  );
}

function agentsRoute(ctx: ApiContext): void {
  const { routes } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/agents',
      summary: 'The agents this server runs (empty when it does not know them)',
      auth: true,
      responses: { 200: { description: 'Agent names.', schema: AgentList } },
    },
    async () => json(200, { agents: [...(ctx.agents ?? [])].sort().map((name) => ({ name })) }),
  );
}

function openApiRoute(ctx: ApiContext): void {
  const { routes } = ctx;

  let document: unknown = null;
  routes.add(
    {
      method: 'get',
      path: '/v1/openapi.json',
      summary: 'This document',
      auth: false,
      responses: {
        200: {
          description: 'OpenAPI 3.1, generated from the validating schemas.',
          schema: z.looseObject({ openapi: z.string(), paths: z.record(z.string(), z.unknown()) }),
        },
      },
    },
    async () => json(200, (document ??= openApiDocument(routes.specs, ctx.version))),
  );
}

function usageRoute(ctx: ApiContext): void {
  ctx.routes.add(
    {
      method: 'get',
      path: '/v1/usage',
      summary: "The caller's tenant's spend on one UTC day, against its daily budget",
      description:
        "Every model call of the tenant's sessions is charged to its day before it is sent (its projection, then what it spent); a call that does not fit in a daily limit pauses its session with BUDGET_EXCEEDED.",
      auth: true,
      query: UsageQuery,
      responses: { 200: { description: "The tenant's day.", schema: TenantUsage } },
    },
    async ({ query, caller }) => {
      const day = await ctx.store.tenantSpend.daySpend(caller.tenantId, query.day);
      const limits = ctx.tenantDailyBudgets[caller.tenantId] ?? null;
      const { costUsd, inputTokens, outputTokens, cacheTokens } = day;
      const used = { costUsd, inputTokens, outputTokens, cacheTokens };
      const remaining: Record<string, number> = {};
      for (const [key, limit] of Object.entries(limits ?? {}) as [keyof typeof used, number][])
        remaining[key] = Math.max(0, limit - used[key]);
      return json(200, {
        tenantId: caller.tenantId,
        day: day.day,
        used,
        calls: day.calls,
        limits,
        remaining,
      });
    },
  );
}
