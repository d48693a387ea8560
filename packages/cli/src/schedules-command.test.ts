import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ScheduleRecord } from '@longrun/core';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

function longrun(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [main, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('longrun schedules', () => {
  it('creates, lists, pauses, resumes and deletes a schedule; refuses a bad cron with its reason', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-schedules-'));
    const made = longrun(
      [
        'schedules',
        'create',
        '--agent',
        'reporter',
        '--cron',
        '0 9 * * 1-5',
        '--timezone',
        'Europe/Paris',
        '--input',
        '{"task":"daily report"}',
        '--catch-up',
        'once',
        '--json',
      ],
      cwd,
    );
    expect(made.stderr).toBe('');
    expect(made.code).toBe(0);
    const schedule = JSON.parse(made.stdout) as ScheduleRecord;
    expect(schedule).toMatchObject({
      agent: 'reporter',
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Paris',
      input: { task: 'daily report' },
      catchUp: 'once',
      overlap: 'skip',
      paused: false,
    });
    // The first tick is a weekday at 09:00 in Paris, after now.
    expect(schedule.nextFireAtMs).toBeGreaterThan(Date.now());
    const paris = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Paris',
      hour: '2-digit',
      minute: '2-digit',
      weekday: 'short',
    }).format(schedule.nextFireAtMs);
    expect(paris).toMatch(/^(Mon|Tue|Wed|Thu|Fri) 09:00$/);

    const listed = longrun(['schedules', 'list'], cwd);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(schedule.id);
    expect(listed.stdout).toContain('catch-up once, overlap skip');

    const paused = longrun(['schedules', 'pause', schedule.id, '--json'], cwd);
    expect((JSON.parse(paused.stdout) as ScheduleRecord).paused).toBe(true);
    expect(longrun(['schedules', 'list'], cwd).stdout).toMatch(/paused/);
    const resumed = longrun(['schedules', 'resume', schedule.id, '--json'], cwd);
    expect((JSON.parse(resumed.stdout) as ScheduleRecord).paused).toBe(false);

    const deleted = longrun(['schedules', 'delete', schedule.id], cwd);
    expect(deleted.code).toBe(0);
    const gone = longrun(['schedules', 'show', schedule.id], cwd);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/NOT_FOUND/);

    const bad = longrun(
      ['schedules', 'create', '--agent', 'reporter', '--cron', '61 * * * *'],
      cwd,
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/INVALID_ARGUMENT/);
    expect(bad.stderr).toMatch(/61 \* \* \* \*/);
    const missing = longrun(['schedules', 'create', '--cron', '* * * * *'], cwd);
    expect(missing.stderr).toMatch(/needs --agent <name> and --cron <expr>/);
  });
});
