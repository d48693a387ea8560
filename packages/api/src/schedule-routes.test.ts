import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { planFire } from '@longrun/runtime';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { call, sqliteStore } from './test-support.ts';

interface ScheduleBody {
  schedule: { id: string; paused: boolean; nextFireAtMs: number; tenantId: string; input: unknown };
}
interface ErrorBody {
  error: { code: string; message: string };
}

describe('/v1/schedules', () => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  let keyA: string;
  let keyB: string;

  beforeAll(async () => {
    ({ store, drop } = await sqliteStore());
    api = createApi({ store, auth: 'keys' });
    keyA = (await generateApiKey(store.apiKeys, 'tenant-a', 'a', 'admin')).key;
    keyB = (await generateApiKey(store.apiKeys, 'tenant-b', 'b', 'admin')).key;
  });
  afterAll(async () => {
    api.close();
    await drop();
  });

  const create = (body: unknown, key = keyA) =>
    call<ScheduleBody & ErrorBody>(api, 'POST', '/v1/schedules', { key, body });

  it('creates, lists, reads, pauses, resumes and deletes a schedule of the key’s tenant', async () => {
    const made = await create({
      agent: 'reporter',
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Paris',
      message: 'Write the daily report.',
      input: { team: 'ops' },
      catchUp: 'once',
      overlap: 'allow',
    });
    expect(made.status).toBe(201);
    const s = made.body.schedule;
    expect(s).toMatchObject({
      tenantId: 'tenant-a',
      agent: 'reporter',
      catchUp: 'once',
      maxCatchUp: 100,
      overlap: 'allow',
      paused: false,
      input: { task: 'Write the daily report.', input: { team: 'ops' } },
    });
    expect(s.nextFireAtMs).toBeGreaterThan(Date.now());
    const list = await call<{ schedules: { id: string }[]; next: string | null }>(
      api,
      'GET',
      '/v1/schedules',
      { key: keyA },
    );
    expect(list.body.schedules.map((x) => x.id)).toEqual([s.id]);
    expect((await call(api, 'GET', `/v1/schedules/${s.id}`, { key: keyA })).status).toBe(200);
    const paused = await call<ScheduleBody>(api, 'POST', `/v1/schedules/${s.id}/pause`, {
      key: keyA,
    });
    expect(paused.body.schedule.paused).toBe(true);
    const resumed = await call<ScheduleBody>(api, 'POST', `/v1/schedules/${s.id}/resume`, {
      key: keyA,
    });
    expect(resumed.body.schedule.paused).toBe(false);
    expect((await call(api, 'DELETE', `/v1/schedules/${s.id}`, { key: keyA })).status).toBe(204);
    expect((await call(api, 'GET', `/v1/schedules/${s.id}`, { key: keyA })).status).toBe(404);
  });

  it('refuses a bad cron expression or time zone with a 400 that says what is wrong', async () => {
    const badMinute = await create({ agent: 'a', cron: '61 * * * *', message: 'x' });
    expect(badMinute.status).toBe(400);
    expect(badMinute.body.error.code).toBe('INVALID_ARGUMENT');
    expect(badMinute.body.error.message).toMatch(/not a valid cron expression.*minute/);
    const badZone = await create({
      agent: 'a',
      cron: '* * * * *',
      timezone: 'Nowhere/City',
      message: 'x',
    });
    expect(badZone.status).toBe(400);
    expect(badZone.body.error.message).toMatch(/not an IANA time zone/);
    const badPolicy = await create({
      agent: 'a',
      cron: '* * * * *',
      message: 'x',
      catchUp: 'twice',
    });
    expect(badPolicy.status).toBe(400);
    expect((await store.schedules.list()).filter((x) => x.agent === 'a')).toEqual([]);
  });

  it("answers 404 for another tenant's schedule on every route, and changes nothing", async () => {
    const theirs = (await create({ agent: 'b-agent', cron: '* * * * *', message: 'b' }, keyB)).body
      .schedule;
    for (const [method, path] of [
      ['GET', `/v1/schedules/${theirs.id}`],
      ['POST', `/v1/schedules/${theirs.id}/pause`],
      ['POST', `/v1/schedules/${theirs.id}/resume`],
      ['DELETE', `/v1/schedules/${theirs.id}`],
      ['GET', `/v1/schedules?after=${theirs.id}`],
      ['GET', '/v1/schedules/..%2F..%2Fetc'],
    ] as const) {
      const answer = await call<ErrorBody>(api, method, path, { key: keyA });
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
    const list = await call<{ schedules: unknown[] }>(api, 'GET', '/v1/schedules', { key: keyA });
    expect(list.body.schedules.some((x) => (x as { id: string }).id === theirs.id)).toBe(false);
    expect(await store.schedules.get(theirs.id)).toMatchObject({ paused: false });
  });

  it('shows the schedule and tick in the view of a session it started', async () => {
    const s = (
      await create({ agent: 'viewed', cron: '* * * * *', message: 'tick', overlap: 'allow' })
    ).body.schedule;
    const record = await store.schedules.get(s.id);
    const plan = planFire(record, record.nextFireAtMs, 60_000);
    const fired = await store.schedules.fire(plan!);
    const view = await call<{ session: { schedule: unknown } }>(
      api,
      'GET',
      `/v1/sessions/${fired.sessions[0]!.id}`,
      { key: keyA },
    );
    expect(view.body.session.schedule).toEqual({
      id: s.id,
      tickAtMs: record.nextFireAtMs,
      missedTicks: 0,
    });
  });
});
