import { createSchedule, resumeSchedule } from '@longrun/runtime';
import {
  LongrunError,
  isLongrunError,
  scheduleId,
  type JsonValue,
  type ScheduleRecord,
  type SessionStore,
} from '@longrun/core';
import type { z } from 'zod';
import { json, type ApiContext } from '../api-context.ts';
import { notFound } from '../http-errors.ts';
import type { Caller } from '../route-table.ts';
import {
  CreateScheduleBody,
  ListSchedulesQuery,
  ScheduleList,
  ScheduleParams,
  ScheduleResponse,
} from '../schedule-schemas.ts';

/** The same session input a POST /v1/sessions with this message and input makes. */
function sessionInput(body: z.output<typeof CreateScheduleBody>): JsonValue {
  return body.input === undefined
    ? { task: body.message }
    : { task: body.message, input: body.input };
}

/** The caller's schedule, or the same 404 for a missing one, another tenant's or a malformed id. */
async function scheduleOf(
  store: SessionStore,
  caller: Caller,
  raw: string,
): Promise<ScheduleRecord> {
  const missing = () => notFound(`schedule ${JSON.stringify(raw.slice(0, 80))}`);
  let record: ScheduleRecord;
  try {
    record = await store.schedules.get(scheduleId(raw));
  } catch (error) {
    if (isLongrunError(error, 'NOT_FOUND') || isLongrunError(error, 'INVALID_ARGUMENT'))
      throw missing();
    throw error;
  }
  if (record.tenantId !== caller.tenantId) throw missing();
  return record;
}

export function scheduleRoutes(ctx: ApiContext): void {
  createRoute(ctx);
  listRoutes(ctx);
  changeRoutes(ctx);
}

function createRoute(ctx: ApiContext): void {
  ctx.routes.add(
    {
      method: 'post',
      path: '/v1/schedules',
      summary: 'Create a cron schedule that starts a session of an agent on every tick',
      description:
        'Exactly one session per tick however many workers run; workers that run the agent fire its ticks. A bad cron expression or time zone is a 400 that says what is wrong.',
      auth: true,
      access: 'operate',
      body: CreateScheduleBody,
      responses: { 201: { description: 'Created.', schema: ScheduleResponse } },
    },
    async ({ body, caller }) => {
      if (ctx.agents !== null && !ctx.agents.has(body.agent)) {
        const known = [...ctx.agents].slice(0, 20).join(', ') || 'none';
        throw new LongrunError(
          'INVALID_ARGUMENT',
          `unknown agent ${JSON.stringify(body.agent)}; this server runs: ${known}`,
        );
      }
      const schedule = await createSchedule(ctx.store, {
        tenantId: caller.tenantId,
        agent: body.agent,
        cron: body.cron,
        input: sessionInput(body),
        ...(body.timezone === undefined ? {} : { timezone: body.timezone }),
        ...(body.catchUp === undefined ? {} : { catchUp: body.catchUp }),
        ...(body.maxCatchUp === undefined ? {} : { maxCatchUp: body.maxCatchUp }),
        ...(body.overlap === undefined ? {} : { overlap: body.overlap }),
        ...(body.paused === undefined ? {} : { paused: body.paused }),
      });
      return json(201, { schedule });
    },
  );
}

function listRoutes(ctx: ApiContext): void {
  const { routes, store } = ctx;
  routes.add(
    {
      method: 'get',
      path: '/v1/schedules',
      summary: "List the tenant's schedules, oldest first",
      auth: true,
      query: ListSchedulesQuery,
      responses: { 200: { description: 'A page of schedules.', schema: ScheduleList } },
    },
    async ({ query, caller }) => {
      const limit = query.limit ?? 50;
      if (query.after !== undefined) await scheduleOf(store, caller, query.after);
      const schedules = await store.schedules.list({
        tenantId: caller.tenantId,
        limit,
        ...(query.after === undefined ? {} : { afterId: query.after }),
      });
      const next = schedules.length === limit ? (schedules.at(-1)?.id ?? null) : null;
      return json(200, { schedules, next });
    },
  );
  routes.add(
    {
      method: 'get',
      path: '/v1/schedules/:id',
      summary: 'Get a schedule',
      auth: true,
      params: ScheduleParams,
      responses: { 200: { description: 'The schedule.', schema: ScheduleResponse } },
    },
    async ({ params, caller }) =>
      json(200, { schedule: await scheduleOf(store, caller, params.id) }),
  );
}

function changeRoutes(ctx: ApiContext): void {
  const { routes, store } = ctx;
  const change = (action: 'pause' | 'resume', summary: string) =>
    routes.add(
      {
        method: 'post',
        path: `/v1/schedules/:id/${action}`,
        summary,
        auth: true,
        access: 'operate',
        params: ScheduleParams,
        responses: { 200: { description: 'The schedule as it is now.', schema: ScheduleResponse } },
      },
      async ({ params, caller }) => {
        const record = await scheduleOf(store, caller, params.id);
        const schedule =
          action === 'pause'
            ? await store.schedules.pause(record.id)
            : await resumeSchedule(store, record.id);
        return json(200, { schedule });
      },
    );
  change('pause', 'Pause a schedule: it fires nothing until resumed');
  change(
    'resume',
    'Resume a schedule from its next tick (ticks during the pause are not caught up)',
  );
  routes.add(
    {
      method: 'delete',
      path: '/v1/schedules/:id',
      summary: 'Delete a schedule (the sessions it started stay)',
      auth: true,
      access: 'operate',
      params: ScheduleParams,
      responses: { 204: { description: 'Deleted.' } },
    },
    async ({ params, caller }) => {
      const record = await scheduleOf(store, caller, params.id);
      await store.schedules.delete(record.id);
      return new Response(null, { status: 204 });
    },
  );
}
