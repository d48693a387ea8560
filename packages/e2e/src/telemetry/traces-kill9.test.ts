import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';
import { openStore } from '@longrun/cli';
import {
  deriveSessionSpans,
  toolSpanIdFor,
  traceIdFor,
  type DerivedSpan,
} from '@longrun/telemetry';
import { sqliteTarget } from '../store-targets.ts';
import { OtlpReceiver, type ReceivedSpan } from './otlp-receiver.ts';

const cliMain = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));
const agentModule = fileURLToPath(new URL('./trace-agent-module.ts', import.meta.url));
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'longrun-e2e-compile-cache');

/** Polls `test` every 20 ms; fails after `timeoutMs` with what it waited for. */
async function until(test: () => Promise<boolean> | boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`not reached in ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The invariant (DESIGN §8): spans are derived from the log, so a session whose worker was killed
 * with -9 twice, and replaced each time, still yields every span exactly once at an OTLP
 * receiver, with the ids, parents, times and attributes the log gives, in one trace with its
 * sub-agent. Real `longrun worker` processes (the CLI, configured by OTEL_EXPORTER_OTLP_ENDPOINT),
 * a real SQLite store, a real HTTP receiver decoding protobuf with OpenTelemetry's own generated
 * code. Each kill waits until the spans closed so far have arrived: a kill inside the one round
 * trip between a commit and its export loses that export, which TraceSessionFeed documents. No
 * randomness: the kill points are events of the log.
 */
describe('traces of a session killed with -9 twice', () => {
  const children: ChildProcess[] = [];
  let receiver: OtlpReceiver | undefined;
  let store: SessionStore | undefined;

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await receiver?.close();
    await store?.close();
  });

  it('arrive exactly once each, linked and attributed per the GenAI conventions', async () => {
    const rx = (receiver = await OtlpReceiver.start());
    const target = await sqliteTarget();
    const dir = join(target.dir, 'agent');
    mkdirSync(join(dir, 'gates'), { recursive: true });
    const s = (store = await openStore(target.url));
    const session = await s.createSession({ agent: 'tracer', input: 'trace me' });
    const id = session.id;
    const stderr: string[] = [];
    const worker = (): ChildProcess => {
      const { OTEL_SEMCONV_STABILITY_OPT_IN: _optIn, ...env } = process.env;
      const child = spawn(
        process.execPath,
        [cliMain, 'worker', '--store', target.url, '--agents', agentModule, '--lease-ms', '2000'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...env,
            NODE_COMPILE_CACHE: compileCache,
            OTEL_EXPORTER_OTLP_ENDPOINT: rx.endpoint,
            OTEL_SERVICE_NAME: 'longrun-e2e',
            LONGRUN_TRACE_DIR: dir,
          },
        },
      );
      child.stderr?.on('data', (c: Buffer) => stderr.push(c.toString()));
      child.stdout?.on('data', (c: Buffer) => stderr.push(c.toString()));
      children.push(child);
      return child;
    };
    const kill = async (child: ChildProcess): Promise<void> => {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    };
    const events = (sid: string = id): Promise<StoredEvent[]> =>
      s.readEvents(sid as SessionId, 0, 10_000);
    const count = async (test: (e: StoredEvent) => boolean): Promise<number> =>
      (await events()).filter(test).length;
    const holdStarted = (e: StoredEvent): boolean =>
      e.type === 'tool.started' && e.data.tool === 'hold';
    const received = (name: string): number => rx.spans.filter((x) => x.name === name).length;

    try {
      // Kill 1: inside the `hold` tool call, its model call's span already received.
      const w1 = worker();
      await until(async () => (await count(holdStarted)) === 1, 'hold started');
      await until(() => received('chat tracer') === 1, 'the first chat span received');
      await kill(w1);
      // The replacement reclaims the session at boot and runs the call again (an idempotent
      // call's re-run writes no event of its own: its tool.completed says attempt 2).
      const w2 = worker();
      writeFileSync(join(dir, 'gates', 'open'), '');
      // Kill 2: in the middle of step 3's streamed model call, after the sub-agent's call.
      await until(
        async () => (await count((e) => e.type === 'model.streamed' && e.data.step === 3)) > 0,
        'step 3 streaming',
      );
      await until(() => received('execute_tool run_subagents') === 1, 'the sub-agent call span');
      await kill(w2);
      const w3 = worker();
      await until(
        async () => (await s.getSession(id)).status === 'completed',
        'the session completed',
        60_000,
      );
      const parentLog = await events();
      const childLog = await events(await childSessionOf(parentLog, s));
      const expected = [
        ...deriveSessionSpans(parentLog, { semconv: 'default' }),
        ...deriveSessionSpans(childLog, { semconv: 'default' }),
      ];
      expect(expected.every((x) => x.endMs !== null)).toBe(true);
      await until(() => rx.spans.length >= expected.length, 'every span received', 10_000);
      // A clean stop flushes: anything sent after this point would be a duplicate.
      const exited = new Promise((r) => w3.once('exit', r));
      w3.kill('SIGTERM');
      await exited;
      check(rx.spans, expected, id);
    } catch (error) {
      const log = (await events()).map(
        (e) => `${e.seq} ${e.type} ${JSON.stringify(e.data).slice(0, 80)}`,
      );
      const said = `${log.join('\n')}\n${stderr.join('').slice(-4000)}\n${rx.errors.join('\n')}`;
      throw new Error(`${(error as Error).message}\n${said}`, {
        cause: error,
      });
    }
  }, 120_000);
});

/** The one child session the parent's `run_subagents` call started (from its tool result). */
async function childSessionOf(parentLog: StoredEvent[], store: SessionStore): Promise<string> {
  const result = parentLog.find(
    (e) => e.type === 'tool.completed' && e.data.tool === 'run_subagents',
  );
  const output = result?.type === 'tool.completed' ? result.data.output : null;
  const childId = (output as { sessionId?: string }[] | null)?.[0]?.sessionId;
  if (childId === undefined) throw new Error('the run_subagents call named no child session');
  await store.getSession(childId as SessionId);
  return childId;
}

function check(received: ReceivedSpan[], expected: DerivedSpan[], rootId: string): void {
  const byId = new Map<string, ReceivedSpan[]>();
  for (const x of received) byId.set(x.spanId, [...(byId.get(x.spanId) ?? []), x]);
  const duplicated = [...byId]
    .filter(([, xs]) => xs.length > 1)
    .map(([sid, xs]) => `${xs[0]?.name} ${sid}`);
  expect(duplicated, 'spans received more than once').toEqual([]);
  const unexpected = received.filter((x) => !expected.some((e) => e.spanId === x.spanId));
  expect(
    unexpected.map((x) => x.name),
    'spans no log gives',
  ).toEqual([]);
  const missing = expected.filter((e) => !byId.has(e.spanId));
  expect(
    missing.map((e) => `${e.name} ${e.sessionId}:${e.openSeq}`),
    'spans never received',
  ).toEqual([]);
  // One trace, its id derived from the root session, whichever process exported the span.
  expect(new Set(received.map((x) => x.traceId))).toEqual(new Set([traceIdFor(rootId)]));
  for (const e of expected) {
    const x = byId.get(e.spanId)?.[0] as ReceivedSpan;
    expect([x.name, x.parentSpanId, x.startMs, x.endMs], e.name).toEqual([
      e.name,
      e.parentSpanId ?? '',
      e.startMs,
      e.endMs,
    ]);
    expect(x.serviceName).toBe('longrun-e2e');
    expect(x.attributes['gen_ai.conversation.id']).toBe(e.sessionId);
    expect(x.attributes['gen_ai.operation.name']).toBe(
      e.name.startsWith('chat')
        ? 'chat'
        : e.name.startsWith('execute_tool')
          ? 'execute_tool'
          : e.name.startsWith('invoke_agent')
            ? 'invoke_agent'
            : undefined,
    );
  }
  const count = (name: string): number => received.filter((x) => x.name === name).length;
  // Steps 1, 2, 3 (attempt 1, cut by the second kill, and attempt 2) and 4.
  expect(count('chat tracer')).toBe(5);
  for (const name of ['invoke_agent tracer', 'invoke_agent helper', 'chat helper'])
    expect(count(name), name).toBe(1);
  for (const name of ['execute_tool hold', 'execute_tool run_subagents', 'execute_tool note'])
    expect(count(name), name).toBe(1);
  const chats = received.filter((x) => x.name === 'chat tracer');
  for (const c of chats) {
    expect(c.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(c.attributes).toMatchObject({
      'gen_ai.provider.name': 'scripted',
      'gen_ai.request.model': 'tracer',
    });
    if (c.attributes['longrun.chat.superseded'] === false)
      expect([
        c.attributes['gen_ai.response.model'],
        typeof c.attributes['gen_ai.usage.input_tokens'],
        typeof c.attributes['gen_ai.usage.output_tokens'],
        Array.isArray(c.attributes['gen_ai.response.finish_reasons']),
      ]).toEqual(['tracer', 'number', 'number', true]);
  }
  const superseded = chats.filter((c) => c.attributes['longrun.chat.superseded'] === true);
  expect(
    superseded.map((c) => [c.attributes['longrun.step'], c.attributes['error.type'], c.statusCode]),
  ).toEqual([[3, 'WORKER_STOPPED', 2]]);
  const hold = received.find((x) => x.name === 'execute_tool hold');
  expect(hold?.attributes).toMatchObject({
    'gen_ai.tool.name': 'hold',
    'gen_ai.tool.call.id': 'h1',
  });
  // One span across the kill: started by the first worker, completed by the second.
  expect(hold?.attributes['longrun.tool.attempt']).toBe(2);
  // The sub-agent's turn hangs under the parent's run_subagents call.
  const call = received.find((x) => x.name === 'execute_tool run_subagents');
  const helperTurn = received.find((x) => x.name === 'invoke_agent helper');
  expect(call?.spanId).toBe(toolSpanIdFor(rootId, 2, 0));
  expect(helperTurn?.parentSpanId).toBe(call?.spanId);
  expect(helperTurn?.attributes['gen_ai.agent.name']).toBe('helper');
  // The parent's durable wait for its child (when the child had not ended at the first look).
  for (const wait of received.filter((x) => x.name.startsWith('wait ')))
    expect(wait.parentSpanId).toBe(call?.spanId);
}
