import type { SessionId, SessionRecord, SessionStatus, SessionStore } from '@longrun/core';
import type { SessionViews } from './session-views.ts';

/** What a list request filters on besides the store's own filters (status, agent). */
export interface SessionSearch {
  /** Case-insensitive text that the id or the task must contain. */
  q?: string | undefined;
  /** Inclusive bounds on `createdAtMs`. */
  createdFrom?: number | undefined;
  createdTo?: number | undefined;
}

export interface SearchRequest extends SessionSearch {
  tenantId: string;
  status?: SessionStatus | undefined;
  agent?: string | undefined;
  limit: number;
  afterId?: SessionId | undefined;
}

/** Sessions one search reads from the store, at most, before it answers with what it found. */
export const searchScanLimit = 2_000;
const scanPage = 200;

export function isSearch(s: SessionSearch): boolean {
  return s.q !== undefined || s.createdFrom !== undefined || s.createdTo !== undefined;
}

/**
 * One page of the tenant's sessions that match, newest first. The store lists by status, agent
 * and keyset; the text and the dates are matched here, reading the records newest first in pages
 * and stopping at the first one created before `createdFrom` (nothing after it can match). A
 * search reads at most `scanLimit` records: when it stops there, `next` is the last one read, so
 * the page may hold fewer than `limit` sessions and still have a next page (`next` is always the
 * `after` of the next request, never a promise that it holds a match).
 */
export async function searchSessions(
  store: SessionStore,
  views: SessionViews,
  request: SearchRequest,
  scanLimit = searchScanLimit,
): Promise<{ records: SessionRecord[]; next: string | null }> {
  const needle = request.q?.toLowerCase();
  const found: SessionRecord[] = [];
  let afterId = request.afterId;
  let scanned = 0;
  for (;;) {
    const want = Math.min(scanPage, scanLimit - scanned);
    const page = await store.listSessions({
      tenantId: request.tenantId,
      newestFirst: true,
      limit: want,
      ...(request.status === undefined ? {} : { status: request.status }),
      ...(request.agent === undefined ? {} : { agent: request.agent }),
      ...(afterId === undefined ? {} : { afterId }),
    });
    for (const record of page) {
      scanned++;
      afterId = record.id;
      if (request.createdFrom !== undefined && record.createdAtMs < request.createdFrom) {
        return { records: found, next: null };
      }
      if (await matches(views, record, request, needle)) {
        const last = found.at(-1);
        if (found.length === request.limit && last !== undefined) {
          return { records: found, next: last.id };
        }
        found.push(record);
      }
    }
    if (page.length < want) return { records: found, next: null };
    if (scanned >= scanLimit) return { records: found, next: afterId ?? null };
  }
}

async function matches(
  views: SessionViews,
  record: SessionRecord,
  search: SessionSearch,
  needle: string | undefined,
): Promise<boolean> {
  if (search.createdTo !== undefined && record.createdAtMs > search.createdTo) return false;
  if (needle === undefined) return true;
  if (record.id.toLowerCase().includes(needle)) return true;
  return (await views.task(record))?.toLowerCase().includes(needle) ?? false;
}
