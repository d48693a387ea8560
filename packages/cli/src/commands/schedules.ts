import { tenantId, type JsonValue, type ScheduleRecord } from '@longrun/core';
import { createSchedule, resumeSchedule } from '@longrun/runtime';
import { defaultStore, parseFlags, UsageError } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';

const subcommands = ['create', 'list', 'show', 'pause', 'resume', 'delete'];

/** The input of the sessions a schedule starts: JSON when it parses, else the text as the task. */
function inputOf(text: string | undefined): JsonValue {
  if (text === undefined) return null;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

function line(s: ScheduleRecord): string {
  const next = s.paused ? 'paused' : `next ${new Date(s.nextFireAtMs).toISOString()}`;
  return `${s.id}  ${s.agent.padEnd(16)} ${JSON.stringify(s.cron).padEnd(18)} ${s.timezone}  ${next}  fired ${s.firedCount}, skipped ${s.skippedCount}  catch-up ${s.catchUp}, overlap ${s.overlap}`;
}

/**
 * `longrun schedules create|list|show|pause|resume|delete`: cron schedules that start sessions
 * of an agent with an input. Every worker that runs the agent fires its ticks (one session per
 * tick, whatever the number of workers).
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      tenant: { type: 'string' },
      agent: { type: 'string' },
      cron: { type: 'string' },
      timezone: { type: 'string' },
      input: { type: 'string' },
      'catch-up': { type: 'string' },
      'max-catch-up': { type: 'string' },
      overlap: { type: 'string' },
      paused: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    usage.schedules,
  );
  const [sub, ...args] = positionals;
  if (values.help || sub === undefined) {
    process.stdout.write(`${usage.schedules}\n`);
    return values.help ? exitCodes.ok : exitCodes.usage;
  }
  if (!subcommands.includes(sub))
    throw new UsageError(
      `unknown schedules subcommand ${JSON.stringify(sub)}\n\n${usage.schedules}`,
    );
  if (sub === 'create' && (values.agent === undefined || values.cron === undefined))
    throw new UsageError(
      `schedules create needs --agent <name> and --cron <expr>\n\n${usage.schedules}`,
    );
  const id = args[0];
  if (sub !== 'create' && sub !== 'list' && id === undefined)
    throw new UsageError(
      `schedules ${sub} needs the schedule id (see schedules list)\n\n${usage.schedules}`,
    );
  let maxCatchUp: number | undefined;
  if (values['max-catch-up'] !== undefined) {
    maxCatchUp = Number(values['max-catch-up']);
    if (!Number.isSafeInteger(maxCatchUp) || maxCatchUp < 1)
      throw new UsageError('--max-catch-up must be a positive whole number');
  }
  const tenant = values.tenant === undefined ? undefined : tenantId(values.tenant);
  // Only create makes a store; the others act on schedules in one, so a mistyped --store is said.
  const store = await openStore(values.store ?? defaultStore, { mustExist: sub !== 'create' });
  const out = (text: string): boolean => process.stdout.write(`${text}\n`);
  const show = (s: ScheduleRecord): boolean => out(values.json ? JSON.stringify(s) : line(s));
  try {
    switch (sub) {
      case 'create': {
        const made = await createSchedule(store, {
          agent: values.agent as string,
          cron: values.cron as string,
          input: inputOf(values.input),
          ...(values.timezone === undefined ? {} : { timezone: values.timezone }),
          ...(values['catch-up'] === undefined
            ? {}
            : { catchUp: values['catch-up'] as 'skip' | 'once' | 'all' }),
          ...(maxCatchUp === undefined ? {} : { maxCatchUp }),
          ...(values.overlap === undefined ? {} : { overlap: values.overlap as 'skip' | 'allow' }),
          ...(tenant === undefined ? {} : { tenantId: tenant }),
          ...(values.paused === true ? { paused: true } : {}),
        });
        show(made);
        break;
      }
      case 'list': {
        const all: ScheduleRecord[] = [];
        for (;;) {
          const last = all.at(-1);
          const page = await store.schedules.list({
            ...(tenant === undefined ? {} : { tenantId: tenant }),
            limit: 1_000,
            ...(last === undefined ? {} : { afterId: last.id }),
          });
          all.push(...page);
          if (page.length < 1_000) break;
        }
        if (values.json) out(JSON.stringify(all));
        else for (const s of all) out(line(s));
        break;
      }
      case 'show':
        show(await store.schedules.get(id as string));
        break;
      case 'pause':
        show(await store.schedules.pause(id as string));
        break;
      case 'resume':
        show(await resumeSchedule(store, id as string));
        break;
      case 'delete':
        await store.schedules.delete(id as string);
        out(`deleted ${id}; the sessions it started stay`);
        break;
    }
    return exitCodes.ok;
  } finally {
    await store.close();
  }
}
