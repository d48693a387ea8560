import { describe, expect, it } from 'vitest';
import {
  fold,
  sessionId as toSessionId,
  type Checkpoint,
  type JsonValue,
  type SessionRecord,
  type StoredEvent,
  type ToolCall,
} from '@longrun/core';
import { TranscriptBuilder } from '@longrun/runtime';
import { chargeEntry, faultTools, scriptedCalls } from './fault-agent.ts';
import { checkRun, type RunFacts } from './fault-invariants.ts';
import type { ToolWindow } from './records.ts';

/**
 * The fault suites' checks can fail: a clean synthetic run passes, and each deliberate breakage
 * of one invariant — the kind a fault could cause — is reported under that invariant's name.
 */
const id = 'ses_0123456789abcdef0123456789abcdef';
const steps = 4;
const key = (step: number): string => `${id}:${step}:0`;

function cleanRun(): RunFacts {
  const events: StoredEvent[] = [];
  const add = (type: string, data: object, epoch = 1): void => {
    const seq = events.length + 1;
    events.push({
      sessionId: toSessionId(id),
      seq,
      v: 1,
      atMs: 1_000 + seq * 10,
      epoch,
      type,
      data,
    } as StoredEvent);
  };
  add('session.created', { agent: 'pg-fault-agent', input: {} }, 0);
  const windows: ToolWindow[] = [];
  for (let step = 1; step <= steps; step++) {
    add('model.requested', { step, attempt: 1, modelId: 'm', transcriptSeq: events.length });
    const calls: ToolCall[] = scriptedCalls(step, steps).map((c, callIndex) => ({
      callIndex,
      tool: c.name,
      args: c.args,
    }));
    add('model.responded', {
      step,
      text: 't',
      toolCalls: calls,
      usage: { inputTokens: 1, outputTokens: 1 },
    });
    for (const c of calls) {
      add('tool.started', {
        step,
        callIndex: c.callIndex,
        tool: c.tool,
        effect: 'keyed',
        idempotencyKey: key(step),
      });
      const startWallMs = 1_000 + events.length * 10 + 1;
      windows.push({
        sessionId: id,
        step,
        callIndex: c.callIndex,
        attempt: 1,
        tool: c.tool,
        pid: 100,
        startNs: BigInt(step * 1_000_000),
        endNs: BigInt(step * 1_000_000 + 500_000),
        startWallMs,
        how: 'ok',
      });
      add('tool.completed', {
        step,
        callIndex: c.callIndex,
        tool: c.tool,
        ok: true,
        output: {},
        attempt: 1,
      });
    }
  }
  add('session.completed', { output: 't' });
  const record = { id, status: 'completed', statusReason: null } as unknown as SessionRecord;
  return {
    sessions: [{ id, name: 's0', steps }],
    events: new Map([[id, events]]),
    records: new Map([[id, record]]),
    checkpoints: new Map([[id, checkpointAt(events, 3)]]),
    tools: {
      windows,
      unsafeRuns: [{ key: key(2), pid: 100 }],
      verifies: [],
      requests: [1, 2, 3, 4].map((step) => ({
        name: 's0',
        step,
        pid: 100,
        wallMs: 1_000 + (step * 4 - 2) * 10 + 5,
      })),
      charges: [{ key: key(1), entry: chargeEntry(1) }],
      chargeAttempts: new Map([[key(1), 1]]),
      transfers: [{ key: key(3), entry: 'transfer 3' }],
      transferAttempts: new Map([[key(3), 1]]),
    },
    acked: events.map((e) => ({ sessionId: id, seq: e.seq, type: e.type, epoch: e.epoch })),
    observed: events.slice(0, 8),
    deathNs: new Map(),
    nowNs: 10_000_000n,
    unexpectedExits: [],
  };
}

/**
 * The checkpoint a worker would have written at `seq`, in a format whose transcript is the
 * builder's snapshot as it is (2); it drops the loop history, which the log has none of before
 * the first tool result.
 */
function checkpointAt(events: readonly StoredEvent[], seq: number): Checkpoint {
  const upTo = events.filter((e) => e.seq <= seq);
  const built = new TranscriptBuilder();
  for (const e of upTo) built.apply(e);
  const state = { format: 2, state: fold(upTo), transcript: built.snapshot() };
  return { sessionId: toSessionId(id), seq, state: state as unknown as JsonValue, parts: [] };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
const checkpointOf = (f: RunFacts): Checkpoint => f.checkpoints.get(id) as Checkpoint;
const withCheckpoint = (f: Mutable<RunFacts>, change: Partial<Checkpoint>): void => {
  f.checkpoints = new Map([[id, { ...checkpointOf(f), ...change }]]);
};
const storedOf = (f: RunFacts) =>
  checkpointOf(f).state as unknown as {
    state: { steps: number };
    transcript: { messages: unknown[] };
  };
const log = (f: RunFacts): StoredEvent[] => f.events.get(id) as StoredEvent[];
const tools = (f: RunFacts): Mutable<RunFacts['tools']> => f.tools;

/** Each breakage and the invariant (violation prefix) that must report it. */
const breakages: [string, string, (f: Mutable<RunFacts>) => void][] = [
  [
    'a session left running',
    'not completed',
    (f) => {
      f.records = new Map([
        [id, { id, status: 'paused', statusReason: 'x' } as unknown as SessionRecord],
      ]);
    },
  ],
  ['a gap in seq', 'seq not contiguous', (f) => void log(f).splice(4, 1)],
  [
    'a checkpoint past the end of the log',
    'checkpoint',
    (f) => withCheckpoint(f, { seq: log(f).length + 1 }),
  ],
  [
    'a checkpoint whose transcript cannot be read',
    'checkpoint',
    (f) => withCheckpoint(f, { state: { format: 2, state: storedOf(f).state, transcript: null } }),
  ],
  [
    'a checkpoint whose transcript is not the log',
    'checkpoint',
    (f) => {
      const stored = storedOf(f);
      const transcript = { ...stored.transcript, messages: stored.transcript.messages.slice(1) };
      withCheckpoint(f, { state: { ...stored, transcript } as unknown as JsonValue });
    },
  ],
  [
    'a checkpoint whose state is not the log',
    'checkpoint',
    (f) => {
      const stored = storedOf(f);
      const state = { ...stored.state, steps: stored.state.steps + 1 };
      withCheckpoint(f, { state: { ...stored, state } as unknown as JsonValue });
    },
  ],
  [
    'a write of an older epoch after a newer one',
    'write after takeover',
    (f) => {
      (log(f)[9] as { epoch: number }).epoch = 2;
    },
  ],
  [
    'an acknowledged event missing',
    'lost ack',
    (f) => {
      f.acked = [...f.acked, { sessionId: id, seq: 99, type: 'tool.completed', epoch: 1 }];
    },
  ],
  [
    'an event read committed, then gone',
    'lost commit',
    (f) => {
      f.observed = [{ ...(log(f)[3] as StoredEvent), atMs: 1 }];
    },
  ],
  [
    'a call with two results',
    'results',
    (f) => {
      const result = log(f).find((e) => e.type === 'tool.completed') as StoredEvent;
      log(f).splice(5, 0, result);
      log(f).forEach((e, i) => ((e as { seq: number }).seq = i + 1));
    },
  ],
  [
    'a call without a result',
    'results',
    (f) => {
      const at = log(f).findIndex((e) => e.type === 'tool.completed');
      log(f).splice(at, 1);
      log(f).forEach((e, i) => ((e as { seq: number }).seq = i + 1));
    },
  ],
  [
    'a keyed effect applied under the wrong entry',
    'keyed effect',
    (f) => {
      tools(f).charges = [{ key: key(1), entry: 'charge 2' }];
    },
  ],
  ['a completed keyed call never applied', 'keyed effect', (f) => void (tools(f).charges = [])],
  [
    'an unsafe call run twice',
    'unsafe effect',
    (f) => {
      tools(f).unsafeRuns = [...f.tools.unsafeRuns, { key: key(2), pid: 101 }];
    },
  ],
  [
    'a verified unsafe call run again without verify saying no',
    'unsafe effect',
    (f) => {
      tools(f).transferAttempts = new Map([[key(3), 2]]);
    },
  ],
  [
    'two processes in one session tool window',
    'two holders',
    (f) => {
      const first = f.tools.windows[0] as ToolWindow;
      tools(f).windows = [...f.tools.windows, { ...first, pid: 101, startNs: first.startNs + 1n }];
    },
  ],
  [
    'a window never ended by a process that still runs',
    'two holders',
    (f) => {
      const [first, second] = f.tools.windows as [ToolWindow, ToolWindow];
      tools(f).windows = [
        { ...first, endNs: null },
        { ...second, pid: 101 },
      ];
    },
  ],
  [
    'a tool run before its start was durable',
    'lost ack',
    (f) => {
      (f.tools.windows[0] as { startWallMs: number }).startWallMs = 0;
    },
  ],
  [
    'a model asked before the previous step was durable',
    'lost ack',
    (f) => {
      (f.tools.requests[2] as { wallMs: number }).wallMs = 0;
    },
  ],
  ['a worker process that exited', 'worker exited', (f) => void (f.unexpectedExits = ['w0'])],
  [
    'a call started twice',
    'started twice',
    (f) => {
      const started = log(f).find((e) => e.type === 'tool.started') as StoredEvent;
      log(f).splice(4, 0, started);
      log(f).forEach((e, i) => ((e as { seq: number }).seq = i + 1));
    },
  ],
];

describe('the fault-run invariants', () => {
  it('pass on a clean run', () => {
    const verdict = checkRun(cleanRun());
    expect(verdict.violations).toEqual([]);
    expect(verdict.completed).toBe(1);
    expect(scriptedCalls(2, steps).map((c) => c.name)).toEqual([faultTools.unsafe]);
  });

  for (const [what, invariant, breakIt] of breakages) {
    it(`report ${what} as "${invariant}"`, () => {
      const facts = cleanRun() as Mutable<RunFacts>;
      breakIt(facts);
      const violations = checkRun(facts).violations;
      expect(violations.length, violations.join('\n')).toBeGreaterThan(0);
      expect(
        violations.some((v) => v.startsWith(`${invariant}:`)),
        violations.join('\n'),
      ).toBe(true);
    });
  }

  it('count duplicated effects and overlapping holders for the bench', () => {
    const facts = cleanRun() as Mutable<RunFacts>;
    tools(facts).unsafeRuns = [...facts.tools.unsafeRuns, { key: key(2), pid: 101 }];
    const first = facts.tools.windows[0] as ToolWindow;
    tools(facts).windows = [...facts.tools.windows, { ...first, pid: 101 }];
    const verdict = checkRun(facts);
    expect(verdict.duplicateEffects).toBe(1);
    expect(verdict.overlappingHolders).toBe(1);
  });
});
