import { z } from 'zod';
import { catchUpPolicies, maxCatchUpLimit, overlapPolicies } from '@longrun/core';
import { JsonValue, named } from './schema-registry.ts';
import { AgentName, cleanText, intParam } from './schemas.ts';

/** Requests and responses of /v1/schedules (schedule-routes.ts); in the OpenAPI document. */

export const CreateScheduleBody = named(
  'CreateScheduleBody',
  z.strictObject({
    agent: AgentName.describe('Name of a registered agent: every tick starts a session of it.'),
    cron: cleanText(200)
      .min(1)
      .describe(
        'A cron expression: 5 fields (minute hour day month weekday), or 6 with seconds first; e.g. "0 9 * * 1-5".',
      ),
    timezone: cleanText(100)
      .min(1)
      .optional()
      .describe('IANA time zone of the expression (default UTC).'),
    message: z
      .string()
      .max(512 * 1024)
      .describe("The task of every session it starts: each one's first user message."),
    input: JsonValue.optional().describe('Extra input handed to the agent with the task.'),
    catchUp: z
      .enum(catchUpPolicies)
      .optional()
      .describe(
        'Ticks missed while no worker ran: skip (default) starts nothing for them, once starts one session for all of them, all starts one per tick (the latest maxCatchUp).',
      ),
    maxCatchUp: z
      .number()
      .int()
      .min(1)
      .max(maxCatchUpLimit)
      .optional()
      .describe('With catchUp all (default 100).'),
    overlap: z
      .enum(overlapPolicies)
      .optional()
      .describe(
        'skip (default): a tick whose previous session is unfinished is skipped; allow: it starts one anyway.',
      ),
    paused: z.boolean().optional().describe('Create it paused.'),
  }),
);

export const ListSchedulesQuery = z.object({
  limit: intParam(1, 200).optional(),
  after: z
    .string()
    .min(1)
    .max(200)
    .optional()
    .describe('Id of the last schedule of the previous page.'),
});

export const ScheduleParams = z.object({ id: z.string() });

export const ScheduleView = named(
  'ScheduleView',
  z.object({
    id: z.string(),
    tenantId: z.string(),
    agent: z.string(),
    cron: z.string(),
    timezone: z.string(),
    input: JsonValue.describe('The input of every session it starts.'),
    catchUp: z.enum(catchUpPolicies),
    maxCatchUp: z.number().int(),
    overlap: z.enum(overlapPolicies),
    paused: z.boolean(),
    nextFireAtMs: z.number().int().describe('The next tick, epoch milliseconds.'),
    lastFiredAtMs: z
      .number()
      .int()
      .nullable()
      .describe('The tick the last session was started for.'),
    lastSessionId: z.string().nullable(),
    firedCount: z.number().int().describe('Sessions started so far.'),
    skippedCount: z
      .number()
      .int()
      .describe('Ticks passed over without a session (catch-up skip, overlap skip).'),
    createdAtMs: z.number().int(),
    updatedAtMs: z.number().int(),
  }),
);

export const ScheduleResponse = named('ScheduleResponse', z.object({ schedule: ScheduleView }));
export const ScheduleList = named(
  'ScheduleList',
  z.object({ schedules: z.array(ScheduleView), next: z.string().nullable() }),
);
