import { Hono } from 'hono';
import type { DailyBudget, SecretStore, SessionId, SessionStore } from '@longrun/core';
import { cachedServedSecrets, envSecrets } from '@longrun/runtime';
import { type ApiContext, type MetricsExposition } from './api-context.ts';
import { ApiKeyWatch } from './api-key-watch.ts';
import { asLongrunError, errorResponse, httpStatusOf, notFound } from './http-errors.ts';
import type { LiveDeltaSource } from './live-deltas.ts';
import { RouteTable, type AuthMode } from './route-table.ts';
import { actionRoutes } from './routes/action-routes.ts';
import { approvalRoutes } from './routes/approval-routes.ts';
import { fileRoutes } from './routes/file-routes.ts';
import { bundleRoutes } from './routes/bundle-routes.ts';
import { keyRoutes } from './routes/key-routes.ts';
import { scheduleRoutes } from './routes/schedule-routes.ts';
import { sessionRoutes } from './routes/session-routes.ts';
import { systemRoutes } from './routes/system-routes.ts';
import { webhookRoutes } from './routes/webhook-routes.ts';
import { FeedHub } from './session-feed.ts';
import { SessionLineages } from './session-lineage.ts';
import { SessionViews, type ModelPrice } from './session-views.ts';
import { defaultApiVersion } from './waiting-api.ts';
import { BodyBudget } from './body-budget.ts';
import { StreamCaps, type StreamLimits } from './stream-caps.ts';
import { StreamBuffers, type StreamBufferLimits } from './stream-buffers.ts';
import { WholeLogReads, type WholeLogReadLimits } from './whole-log-reads.ts';

export interface ApiOptions {
  store: SessionStore;
  /** The tenants' daily limits the workers enforce (`WorkerOptions.tenantDailyBudgets`), for GET /v1/usage. */
  tenantDailyBudgets?: Readonly<Record<string, DailyBudget>>;
  /** `keys`: every /v1 route but health, ready and the OpenAPI document needs an API key. */
  auth: AuthMode;
  /** Agent names this deployment runs; creating a session for another is refused (400). */
  agents?: readonly string[];
  /** Live token deltas (the in-process worker's); without it readers get the durable stream only. */
  live?: LiveDeltaSource;
  /** Keepalive comment interval on idle streams, milliseconds. Default 15 000. */
  heartbeatMs?: number;
  /**
   * How often the watched sessions' records are read, all in one read, milliseconds; a session
   * whose head or status moved then has its new events read. Default 25.
   */
  pollMs?: number;
  /** The reconnect delay streams tell clients, milliseconds. Default 1 000. */
  retryMs?: number;
  /** Items a stream reader may fall behind before it is dropped. Default 2 048. */
  mailboxCapacity?: number;
  /**
   * Event streams open at once: server-wide (1,536: three quarters of the connection cap), per
   * API key (64) and per tenant (256); see `StreamCaps`. Without keys only `maxOpen` applies.
   */
  streamLimits?: Partial<StreamLimits>;
  /** Bytes streams may hold read ahead of their clients, server-wide (128 MiB); `StreamBuffers`. */
  streamBuffers?: Partial<StreamBufferLimits>;
  /**
   * How stale an open stream's view of its API key may be, milliseconds: a stream whose key was
   * revoked ends before it sends anything more, at most this long after (at once when it was
   * revoked through this server). Default 2 000.
   */
  keyCheckMs?: number;
  /**
   * Sessions waiting on a person that one `GET /v1/approvals` reads, at most (oldest made first);
   * past it the answer says `truncated`. Default 2 000.
   */
  approvalsScanLimit?: number;
  /**
   * Characters of a pending approval's whole arguments `GET /v1/sessions/:id/approvals/:approvalId`
   * returns, at most; past it the answer says TOO_LARGE instead. Default 4 Mi (4,194,304).
   */
  approvalArgumentsMaxChars?: number;
  /**
   * Bytes of request bodies that callers without an API key (webhook deliveries) may have in
   * flight at once, server-wide; past it they get 503 SERVER_BUSY (BodyBudget). Default 16 MiB.
   */
  unauthenticatedBodyBytes?: number;
  /** How many requests may read a whole session log at once (tree, approval decisions). */
  wholeLogReads?: WholeLogReadLimits;
  /** How many debug bundles may be built and streamed at once. Default 2, 16 waiting. */
  bundleReads?: WholeLogReadLimits;
  /**
   * The secrets this process can resolve: workspace files, diffs and debug bundles it serves are
   * masked with every one it lists (a credential a tool wrote into the workspace). Give it the
   * workers' store (or the same environment) so that it masks what they hand out. Default:
   * `envSecrets()` — this process's variables whose names say secret.
   */
  secrets?: SecretStore;
  /** Prices per model id; without them `costUsd` is null. */
  prices?: Record<string, ModelPrice>;
  version?: string;
  /** Serves `/` and `/assets/*` (the dashboard); a placeholder page when absent. */
  dashboard?: (request: Request) => Response | Promise<Response>;
  onSessionCreated?: (id: SessionId) => void;
  onSignalled?: (id: SessionId) => void;
  /**
   * Figures of the parts this process runs beside the API (the sandbox pool of an in-process
   * worker), served with the API's own at `GET /v1/figures` — to a server without keys only:
   * they count every tenant's work, which no tenant's key is shown.
   */
  figures?: () => Record<string, unknown>;
  /**
   * This process's metrics in the Prometheus text format (@longrun/telemetry's `ProcessMetrics`),
   * served at `GET /metrics`; without it that path is 404.
   */
  metrics?: MetricsExposition;
  /** Where failures that are bugs (500) and stream feed trouble are reported. */
  log?: (entry: { level: 'warn' | 'error'; msg: string; [k: string]: unknown }) => void;
}

export interface Api {
  readonly app: Hono;
  readonly auth: AuthMode;
  /** The app's fetch handler: a Request in, a Response out (no socket needed). */
  fetch: (request: Request) => Promise<Response>;
  /** This process appended to the session: stream readers get it now instead of at the next poll. */
  appended: (sessionId: string) => void;
  /** Ends every open stream and stops every feed. */
  close: () => void;
  stats: () => { feeds: number; subscribers: number; reads: number; cachedSessions: number };
  /**
   * The whole server's figures: every tenant's streams, those of `options.figures` and those
   * added with `addFigures`. `GET /v1/figures` shows a caller with an API key its tenant's.
   */
  figures: () => Record<string, unknown>;
  /** Adds a part to the figures, under `part` (what the HTTP server holds: `connections`). */
  addFigures: (part: string, read: () => unknown) => void;
}

const placeholderPage = `<!doctype html><meta charset="utf-8"><title>longrun</title>
<p>The longrun API is running. The dashboard is not bundled with this server; the API is described at <a href="/v1/openapi.json">/v1/openapi.json</a>.</p>`;

/** Builds the HTTP API over a store. Every route is testable with `api.fetch(new Request(…))`. */
export function createApi(options: ApiOptions): Api {
  const app = new Hono();
  const added = new Map<string, () => unknown>();
  const ctx = buildContext(options, app, added);
  systemRoutes(ctx);
  sessionRoutes(ctx);
  actionRoutes(ctx);
  approvalRoutes(ctx);
  webhookRoutes(ctx);
  fileRoutes(ctx);
  bundleRoutes(ctx);
  scheduleRoutes(ctx);
  keyRoutes(ctx);
  mountDashboard(app, options.dashboard);
  handleErrors(app, ctx.routes, options.log);
  const { hub, views } = ctx;
  return {
    app,
    auth: options.auth,
    fetch: async (request) => app.fetch(request),
    appended: (id) => hub.appended(id),
    close: () => {
      hub.close();
      views.clear();
    },
    stats: () => ({ ...hub.stats, cachedSessions: views.cachedSessions }),
    figures: () => ctx.figures(null),
    addFigures: (part, read) => void added.set(part, read),
  };
}

function buildContext(
  options: ApiOptions,
  app: Hono,
  added: ReadonlyMap<string, () => unknown>,
): ApiContext {
  const { store, log } = options;
  const caps = new StreamCaps(options.streamLimits);
  const buffers = new StreamBuffers(options.streamBuffers);
  const views = new SessionViews(store, options.prices ? { prices: options.prices } : {});
  const hub = new FeedHub({
    store,
    views,
    pollMs: options.pollMs ?? 25,
    log: (msg) => log?.({ level: 'warn', msg }),
  });
  return {
    store,
    auth: options.auth,
    version: options.version ?? defaultApiVersion,
    agents: options.agents === undefined ? null : new Set(options.agents),
    views,
    hub,
    live: options.live,
    lineages: new SessionLineages(store),
    routes: new RouteTable(
      app,
      store,
      options.auth,
      new BodyBudget(options.unauthenticatedBodyBytes ?? 16 * 1024 * 1024),
    ),
    stream: {
      store,
      hub,
      views,
      live: options.live,
      heartbeatMs: options.heartbeatMs ?? 15_000,
      retryMs: options.retryMs ?? 1_000,
      mailboxCapacity: options.mailboxCapacity ?? 2_048,
      keys: new ApiKeyWatch(store.apiKeys, options.keyCheckMs ?? 2_000),
      caps,
      buffers,
    },
    wholeLogReads: new WholeLogReads(options.wholeLogReads),
    bundleReads: new WholeLogReads(options.bundleReads ?? { concurrent: 2, queued: 16 }),
    servedSecrets: cachedServedSecrets(options.secrets ?? envSecrets()),
    onSessionCreated: options.onSessionCreated,
    onSignalled: options.onSignalled,
    approvalsScanLimit: options.approvalsScanLimit ?? 2_000,
    approvalArgumentsMaxChars: options.approvalArgumentsMaxChars ?? 4 * 1024 * 1024,
    tenantDailyBudgets: options.tenantDailyBudgets ?? {},
    metrics: options.metrics,
    figures: (tenantId) => ({
      streams:
        tenantId === null
          ? {
              scope: 'server',
              ...hub.stats,
              cachedSessions: views.cachedSessions,
              caps: caps.figures,
              buffers: buffers.figures,
            }
          : { scope: 'tenant', tenantId, ...hub.tenantStats(tenantId) },
      // The worker's counts and sandbox pool are every tenant's: the local user's alone to see.
      ...(tenantId === null ? options.figures?.() : {}),
      ...Object.fromEntries([...added].map(([part, read]) => [part, read()])),
    }),
  };
}

/** Every failure is the typed error body; bugs (5xx) are logged, never with a query string. */
function handleErrors(app: Hono, routes: RouteTable, log: ApiOptions['log']): void {
  app.onError((error, c) => {
    const e = asLongrunError(error);
    if (httpStatusOf(e) >= 500)
      log?.({
        level: 'error',
        msg: `${c.req.method} ${c.req.path}: ${e.message}`,
        code: e.code,
        cause: e.cause instanceof Error ? e.cause.stack : undefined,
      });
    return errorResponse(e);
  });
  app.notFound((c) => {
    const wrong = routes.wrongMethod(c.req.method, c.req.path);
    return errorResponse(wrong ?? notFound(`route ${c.req.method} ${c.req.path.slice(0, 200)}`));
  });
}

function mountDashboard(
  app: Hono,
  dashboard: ((request: Request) => Response | Promise<Response>) | undefined,
): void {
  if (dashboard === undefined) {
    app.get('/', (c) => c.html(placeholderPage));
    return;
  }
  app.get('/', (c) => dashboard(c.req.raw));
  app.get('/assets/*', (c) => dashboard(c.req.raw));
}
