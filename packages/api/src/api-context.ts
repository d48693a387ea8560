import type { DailyBudget, SessionId, SessionStore } from '@longrun/core';
import type { ServedSecrets } from '@longrun/runtime';
import type { LiveDeltaSource } from './live-deltas.ts';
import type { AuthMode, Caller, RouteTable } from './route-table.ts';
import type { FeedHub } from './session-feed.ts';
import type { SessionViews } from './session-views.ts';
import type { SessionLineages } from './session-lineage.ts';
import type { StreamDeps } from './sse-stream.ts';
import type { WholeLogReads } from './whole-log-reads.ts';

/** What the route handlers share. */
export interface ApiContext {
  store: SessionStore;
  auth: AuthMode;
  version: string;
  /** Known agent names; null when the server does not know them (any name is accepted). */
  agents: ReadonlySet<string> | null;
  views: SessionViews;
  hub: FeedHub;
  live: LiveDeltaSource | undefined;
  stream: StreamDeps;
  /** Sub-agent sessions' parent and root ids, for the events handed out. */
  lineages: SessionLineages;
  routes: RouteTable;
  /** Called after a session was created here (e.g. to wake an in-process worker). */
  onSessionCreated: ((id: SessionId) => void) | undefined;
  /** Called after a signal was sent to a session here (message, cancel, resume, approval). */
  onSignalled: ((id: SessionId) => void) | undefined;
  /** Sessions waiting on a person one inbox request reads, at most. */
  approvalsScanLimit: number;
  /** Characters of an approval's whole arguments one answer carries, at most. */
  approvalArgumentsMaxChars: number;
  /** The tenants' daily limits, as this server was told them. */
  tenantDailyBudgets: Readonly<Record<string, DailyBudget>>;
  /**
   * Operational figures: streams, a sandbox pool run beside the API, the server's connections.
   * With a tenant id, the streams are that tenant's only; with null, the whole server's.
   */
  figures: (tenantId: string | null) => Record<string, unknown>;
  metrics: MetricsExposition | undefined;
  /** Turns for the requests that read a whole session log (its tree, an approval decision). */
  wholeLogReads: WholeLogReads;
  /**
   * Turns for debug bundles, apart: a bundle holds its turn while the archive streams to a
   * client that may read slowly, which must not hold up approvals.
   */
  bundleReads: WholeLogReads;
  /**
   * The secrets this process can resolve (`ApiOptions.secrets`), that workspace files, diffs and
   * bundles are masked with before they are served.
   */
  servedSecrets: () => Promise<ServedSecrets>;
}

/** A process's metrics, in the Prometheus text exposition format. */
export interface MetricsExposition {
  contentType: string;
  prometheusText(): Promise<string>;
}

/** Who the log records as deciding or cancelling: the API key's public id, never its secret. */
export function actor(caller: Caller): string {
  return caller.keyId === null ? 'api' : `api-key:${caller.keyId}`;
}

export function json(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
  });
}
