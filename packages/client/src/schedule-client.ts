import {
  LongrunError,
  scheduleId,
  type CatchUpPolicy,
  type OverlapPolicy,
  type ScheduleRecord,
  type SessionStore,
} from '@longrun/core';
import { createSchedule, resumeSchedule } from '@longrun/runtime';
import type { StartInput } from './client-types.ts';
import { agentInput } from './session-handle.ts';

/** When and how a schedule starts sessions (see docs/schedules.md). */
export interface ScheduleOptions {
  /** 5 fields (minute hour day month weekday), or 6 with seconds first; e.g. `0 9 * * 1-5`. */
  cron: string;
  /** IANA time zone of the expression (default UTC). */
  timezone?: string;
  /** Ticks missed while no worker ran: `skip` (default), `once` or `all`. */
  catchUp?: CatchUpPolicy;
  /** With catch-up `all`: the most missed ticks that start sessions (default 100). */
  maxCatchUp?: number;
  /** A tick whose previous session still runs: `skip` (default) or `allow`. */
  overlap?: OverlapPolicy;
  paused?: boolean;
  /** Over a store: any tenant (default `default`). Over HTTP the tenant is the API key's. */
  tenant?: string;
}

export interface ScheduleList {
  schedules: ScheduleRecord[];
  /** Pass as `after` for the next page; null on the last. */
  next: string | null;
}

/** Cron schedules that start sessions: the same calls over a store and over HTTP. */
export interface ScheduleClient {
  create(agent: string, input: StartInput, options: ScheduleOptions): Promise<ScheduleRecord>;
  list(options?: { limit?: number; after?: string }): Promise<ScheduleList>;
  get(id: string): Promise<ScheduleRecord>;
  pause(id: string): Promise<ScheduleRecord>;
  /** From the next tick; ticks during the pause are not caught up. */
  resume(id: string): Promise<ScheduleRecord>;
  /** The sessions it started stay. */
  delete(id: string): Promise<void>;
}

/** Schedules in a store this process opened. */
export function storeSchedules(store: SessionStore): ScheduleClient {
  return {
    create: (agent, input, o) =>
      createSchedule(store, {
        agent,
        input: agentInput(input),
        cron: o.cron,
        ...(o.timezone === undefined ? {} : { timezone: o.timezone }),
        ...(o.catchUp === undefined ? {} : { catchUp: o.catchUp }),
        ...(o.maxCatchUp === undefined ? {} : { maxCatchUp: o.maxCatchUp }),
        ...(o.overlap === undefined ? {} : { overlap: o.overlap }),
        ...(o.paused === undefined ? {} : { paused: o.paused }),
        ...(o.tenant === undefined ? {} : { tenantId: o.tenant }),
      }),
    async list(options = {}) {
      const limit = options.limit ?? 50;
      const schedules = await store.schedules.list({
        limit,
        ...(options.after === undefined ? {} : { afterId: options.after }),
      });
      return {
        schedules,
        next: schedules.length === limit ? (schedules.at(-1)?.id ?? null) : null,
      };
    },
    get: (id) => store.schedules.get(scheduleId(id)),
    pause: (id) => store.schedules.pause(scheduleId(id)),
    resume: (id) => resumeSchedule(store, scheduleId(id)),
    delete: (id) => store.schedules.delete(scheduleId(id)),
  };
}

/** A request to the server's API; `undefined` for a 204. */
export type ApiCall = <T>(
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: unknown,
) => Promise<T>;

/** Schedules of a longrun server, over /v1/schedules. */
export function httpSchedules(call: ApiCall): ScheduleClient {
  const one = async (method: 'GET' | 'POST', path: string, body?: unknown) =>
    (await call<{ schedule: ScheduleRecord }>(method, path, body)).schedule;
  const path = (id: string) => `/v1/schedules/${encodeURIComponent(scheduleId(id))}`;
  return {
    create(agent, input, o) {
      const data = agentInput(input) as { task: string; input?: unknown };
      const { tenant, ...rest } = o;
      if (tenant !== undefined) {
        throw new LongrunError(
          'INVALID_ARGUMENT',
          "over HTTP a schedule's tenant is the API key's; leave `tenant` out",
        );
      }
      return one('POST', '/v1/schedules', {
        agent,
        message: data.task,
        ...(data.input === undefined ? {} : { input: data.input }),
        ...rest,
      });
    },
    list(options = {}) {
      const query = new URLSearchParams();
      if (options.limit !== undefined) query.set('limit', String(options.limit));
      if (options.after !== undefined) query.set('after', options.after);
      const q = query.size === 0 ? '' : `?${query.toString()}`;
      return call<ScheduleList>('GET', `/v1/schedules${q}`);
    },
    get: (id) => one('GET', path(id)),
    pause: (id) => one('POST', `${path(id)}/pause`),
    resume: (id) => one('POST', `${path(id)}/resume`),
    delete: async (id) => {
      await call<undefined>('DELETE', path(id));
    },
  };
}
