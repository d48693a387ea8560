import { describe, expect, it } from 'vitest';
import { WorkerEvents, writeWorkerLog } from '@longrun/runtime';
import { event, sessionId, type StoredEvent } from '@longrun/core';
import { createJsonLog, environmentSecrets } from './json-log.ts';

function capture(level = 'info', secrets: string[] = []) {
  const lines: Record<string, unknown>[] = [];
  const log = createJsonLog({
    level,
    secrets,
    destination: {
      write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>),
    },
  });
  return { log, lines };
}

describe('the JSON log', () => {
  it('writes one pino JSON line per entry: level by name, ISO time, msg, and the fields', () => {
    const { log, lines } = capture('info');
    log({ level: 'warn', msg: 'claim failed; retrying', workerId: 'w1' });
    log({ msg: 'worker started', store: 'sqlite' });
    log({ level: 'debug', msg: 'not written at info' });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      msg: 'claim failed; retrying',
      workerId: 'w1',
    });
    expect(lines[1]).toMatchObject({ level: 'info', msg: 'worker started', store: 'sqlite' });
    expect(Date.parse(String(lines[0]?.time))).not.toBeNaN();
    expect(() => createJsonLog({ level: 'loud' })).toThrow(/log level "loud" is not one of/);
  });

  it('redacts secrets wherever they appear: credential keys, API keys, bearer tokens, secret env values', () => {
    const canary = 'canary-7f3a9c1e5b2d';
    const env = {
      OPENAI_API_KEY: canary,
      DB_PASSWORD: 'hunter2hunter2',
      HOME: '/root',
      PATH_X: 'x',
    };
    expect(environmentSecrets(env).sort()).toEqual([canary, 'hunter2hunter2'].sort());
    const { log, lines } = capture('info', environmentSecrets(env));
    const key = `lr_0123456789abcdef_${'A'.repeat(43)}`;
    log({
      level: 'error',
      msg: `tool failed: curl -H "Authorization: Bearer ${canary}" said 401`,
      sessionId: 'ses_1',
      token: 'abc',
      request: { authorization: `Bearer ${key}`, url: `https://x.test/?k=${canary}` },
      output: [`the key is ${key}`, { nested: `password=hunter2hunter2` }],
    });
    const text = JSON.stringify(lines);
    expect(text).not.toContain(canary);
    expect(text).not.toContain('hunter2hunter2');
    expect(text).not.toContain('A'.repeat(43));
    expect(lines[0]).toMatchObject({
      token: '[REDACTED]',
      request: { authorization: '[REDACTED]' },
      sessionId: 'ses_1',
    });
    expect(String((lines[0]?.output as string[])[0])).toBe(
      'the key is lr_0123456789abcdef_[REDACTED]',
    );
  });

  it("places every line about a session at its log's seq and step", () => {
    const events = new WorkerEvents();
    const { log, lines } = capture('info');
    writeWorkerLog(events, log);
    const id = sessionId('ses_00000000000000000000000000000001');
    const stored = (seq: number, e: ReturnType<typeof event>): StoredEvent => ({
      ...e,
      sessionId: id,
      seq,
      v: 1,
      atMs: 0,
      epoch: 1,
    });
    events.emit('events.committed', {
      sessionId: id,
      events: [
        stored(
          7,
          event('model.requested', { step: 3, attempt: 1, modelId: 'm', transcriptSeq: 6 }),
        ),
        stored(8, event('session.resumed', { by: 'x', reason: null })),
      ],
    });
    events.emit('log', { level: 'warn', msg: 'fenced', workerId: 'w', sessionId: id });
    events.emit('session.ended', { sessionId: id, outcome: 'waiting' });
    events.emit('log', { level: 'info', msg: 'no session' });
    expect(lines.map((l) => [l.msg, l.sessionId, l.seq, l.step])).toEqual([
      ['fenced', id, 8, 3],
      ['session ended', id, 8, 3],
      ['no session', undefined, undefined, undefined],
    ]);
  });
});
