import { describe, expect, it } from 'vitest';
import type { SessionCounts, StoredEvent } from '@longrun/core';
import { ProcessMetrics } from './metric-process.ts';
import { serveMetrics } from './prometheus-server.ts';

/** One sample of a Prometheus exposition, by metric name and a subset of its labels; 0 if none. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  let found = false;
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const have = new Map<string, string>();
    for (const m of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      have.set(m[1] ?? '', m[2] ?? '');
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) {
      total += Number(match[3]);
      found = true;
    }
  }
  return found ? total : 0;
}

let seq = 1;
function ev(type: string, data: object, atMs: number, sessionId = 'ses_a'): StoredEvent {
  return { sessionId, seq: ++seq, v: 1, epoch: 1, atMs, type, data } as unknown as StoredEvent;
}
const usage = (inputTokens: number, outputTokens: number) => ({ inputTokens, outputTokens });
const responded = (atMs: number, input: number, output: number, modelId = 'openai:gpt-5-mini') =>
  ev(
    'model.responded',
    { step: 1, text: '', toolCalls: [], usage: usage(input, output), modelId },
    atMs,
  );

describe('metrics derived from committed events', () => {
  it('records token usage by type and a model call from the event before it to its response', async () => {
    const m = new ProcessMetrics();
    m.committed('ses_a', [ev('user.messaged', { text: 'go', signalId: null }, 1_000)]);
    m.committed('ses_a', [
      ev(
        'model.requested',
        { step: 1, attempt: 1, modelId: 'openai:gpt-5-mini', transcriptSeq: 2 },
        1_300,
      ),
      ev('model.streamed', { step: 1, attempt: 1, text: 'he' }, 1_400),
    ]);
    m.committed('ses_a', [responded(1_750, 120, 30)]);
    const text = await m.prometheusText();
    const chat = {
      gen_ai_operation_name: 'chat',
      gen_ai_provider_name: 'openai',
      gen_ai_request_model: 'gpt-5-mini',
      gen_ai_response_model: 'gpt-5-mini',
    };
    expect(
      sample(text, 'gen_ai_client_token_usage_sum', { ...chat, gen_ai_token_type: 'input' }),
    ).toBe(120);
    expect(
      sample(text, 'gen_ai_client_token_usage_sum', { ...chat, gen_ai_token_type: 'output' }),
    ).toBe(30);
    // From user.messaged (1,000) to the response (1,750): the request and its stream are the call's own.
    expect(sample(text, 'gen_ai_client_operation_duration_sum', chat)).toBeCloseTo(0.75);
    expect(sample(text, 'gen_ai_client_operation_duration_bucket', { ...chat, le: '0.64' })).toBe(
      0,
    );
    expect(sample(text, 'gen_ai_client_operation_duration_bucket', { ...chat, le: '1.28' })).toBe(
      1,
    );
    expect(
      sample(text, 'gen_ai_client_token_usage_bucket', {
        ...chat,
        gen_ai_token_type: 'input',
        le: '256',
      }),
    ).toBe(1);
    expect(
      sample(text, 'gen_ai_client_token_usage_bucket', {
        ...chat,
        gen_ai_token_type: 'input',
        le: '64',
      }),
    ).toBe(0);
  });

  it("times a run's first model call from its claim (the store's time of it)", async () => {
    const m = new ProcessMetrics();
    m.derivation.claimed('ses_a', 20_000);
    m.committed('ses_a', [responded(20_300, 5, 5)]);
    const text = await m.prometheusText();
    expect(sample(text, 'gen_ai_client_operation_duration_sum')).toBeCloseTo(0.3);
    expect(sample(text, 'gen_ai_client_operation_duration_count')).toBe(1);
  });

  it('marks a failed call with error.type, times tools, and a turn from its start to its end', async () => {
    const m = new ProcessMetrics();
    m.committed('ses_a', [ev('user.messaged', { text: 'go', signalId: null }, 10_000)]);
    m.committed('ses_a', [
      ev(
        'model.requested',
        { step: 1, attempt: 1, modelId: 'anthropic:claude-x', transcriptSeq: 2 },
        10_100,
      ),
      ev(
        'model.failed',
        { step: 1, attempt: 1, code: 'RATE_LIMITED', message: '', retryable: true, retryInMs: 1 },
        10_200,
      ),
    ]);
    m.committed('ses_a', [
      ev('tool.started', { step: 1, callIndex: 0, tool: 'bash', effect: 'unsafe' }, 11_000),
    ]);
    m.committed('ses_a', [
      ev(
        'tool.completed',
        {
          step: 1,
          callIndex: 0,
          tool: 'bash',
          ok: false,
          output: null,
          attempt: 1,
          errorCode: 'TIMEOUT',
        },
        13_500,
      ),
    ]);
    m.committed('ses_a', [ev('session.completed', { output: null }, 14_000)]);
    const text = await m.prometheusText();
    expect(
      sample(text, 'gen_ai_client_operation_duration_sum', {
        error_type: 'RATE_LIMITED',
        gen_ai_provider_name: 'anthropic',
        gen_ai_request_model: 'claude-x',
      }),
    ).toBeCloseTo(0.2);
    expect(
      sample(text, 'gen_ai_execute_tool_duration_sum', {
        gen_ai_tool_name: 'bash',
        error_type: 'TIMEOUT',
      }),
    ).toBeCloseTo(2.5);
    expect(
      sample(text, 'gen_ai_invoke_agent_duration_sum', { gen_ai_operation_name: 'invoke_agent' }),
    ).toBeCloseTo(4);
    expect(sample(text, 'gen_ai_client_token_usage_count')).toBe(0);
  });

  it('counts a takeover once, with the time from its claim to its first commit; a claim after a wait is none', async () => {
    let nowMs = 0;
    const m = new ProcessMetrics({ nowMs: () => nowMs });
    const d = m.derivation;
    d.claimed('ses_a', 0);
    nowMs = 40;
    d.committed('ses_a', [responded(5_000, 10, 1)]); // the first commit comes before the log's tail is read
    d.claimedAfter(
      'ses_a',
      ev('tool.started', { step: 1, callIndex: 0, tool: 't', effect: 'pure' }, 1_000),
    );
    d.claimed('ses_b', 0);
    d.claimedAfter(
      'ses_b',
      ev('wait.started', { waitId: 'w', kind: 'timer', untilMs: 9 }, 1_000, 'ses_b'),
    );
    nowMs = 90;
    d.committed('ses_b', [
      ev('wait.resolved', { waitId: 'w', signalId: null, payload: null }, 6_000, 'ses_b'),
    ]);
    const text = await m.prometheusText();
    expect(sample(text, 'longrun_lease_takeovers_total')).toBe(1);
    expect(sample(text, 'longrun_recovery_duration_count')).toBe(1);
    expect(sample(text, 'longrun_recovery_duration_sum')).toBeCloseTo(0.04);
  });

  it('never counts again what a taken-over session had committed: two processes sum to the log', async () => {
    // Process A commits steps 1 and 2 and dies; B takes over, reads the log (its last event
    // only reaches the derivation), and commits steps 3 and 4.
    const log = [
      responded(1_000, 100, 10),
      responded(2_000, 200, 20),
      responded(3_000, 300, 30),
      responded(4_000, 400, 40),
    ];
    const a = new ProcessMetrics();
    const b = new ProcessMetrics();
    a.derivation.claimed('ses_a', 0);
    a.committed('ses_a', log.slice(0, 1));
    a.committed('ses_a', log.slice(1, 2));
    b.derivation.claimed('ses_a', 0);
    b.derivation.claimedAfter('ses_a', log[1]!);
    b.committed('ses_a', log.slice(2));
    const sum = async (p: ProcessMetrics, type: string) =>
      sample(await p.prometheusText(), 'gen_ai_client_token_usage_sum', {
        gen_ai_token_type: type,
      });
    expect([await sum(a, 'input'), await sum(b, 'input')]).toEqual([300, 700]);
    expect((await sum(a, 'output')) + (await sum(b, 'output'))).toBe(100);
    expect(sample(await b.prometheusText(), 'longrun_lease_takeovers_total')).toBe(1);
  });

  it('adds settled spend in USD by outcome, and counts append stalls', async () => {
    const m = new ProcessMetrics();
    const settled = (costUsd: number, outcome: string) =>
      ev(
        'budget.settled',
        { reservationId: 'r', outcome, costUsd, inputTokens: 0, outputTokens: 0, cacheTokens: 0 },
        1,
      );
    m.committed('ses_a', [
      settled(0.25, 'responded'),
      settled(0.5, 'interrupted'),
      settled(0.125, 'responded'),
    ]);
    m.derivation.appendStalled();
    m.derivation.appendStalled();
    m.derivation.appendRecovered();
    const text = await m.prometheusText();
    expect(
      sample(text, 'longrun_budget_spend_total', { longrun_budget_outcome: 'responded' }),
    ).toBeCloseTo(0.375);
    expect(
      sample(text, 'longrun_budget_spend_total', { longrun_budget_outcome: 'interrupted' }),
    ).toBeCloseTo(0.5);
    expect(sample(text, 'longrun_append_stalls_total')).toBe(2);
    expect(sample(text, 'longrun_append_stalled')).toBe(1);
  });
});

describe('gauges read at the scrape', () => {
  const counts: SessionCounts = {
    byStatus: {
      queued: 3,
      running: 2,
      waiting: 4,
      paused: 0,
      completed: 7,
      failed: 1,
      cancelled: 0,
    },
    dueWaits: 1,
  };

  it('reports sessions by status, the claim queue and the sandbox pool', async () => {
    const m = new ProcessMetrics({
      countSessions: async () => counts,
      sandboxPool: () => ({ size: 8, ready: 2, inUse: 5, provisioning: 1, queued: 3 }),
    });
    const text = await m.prometheusText();
    expect(sample(text, 'longrun_sessions', { longrun_session_status: 'completed' })).toBe(7);
    expect(sample(text, 'longrun_sessions', { longrun_session_status: 'paused' })).toBe(0);
    expect(sample(text, 'longrun_sessions')).toBe(17);
    expect(sample(text, 'longrun_claim_queue_depth')).toBe(4);
    expect(sample(text, 'longrun_sandbox_pool_usage', { longrun_sandbox_state: 'in_use' })).toBe(5);
    expect(sample(text, 'longrun_sandbox_pool_limit')).toBe(8);
    expect(sample(text, 'longrun_sandbox_pool_queued')).toBe(3);
  });

  it('reports the appends the store committed and the commits that carried them', async () => {
    let counts = { commits: 2, appends: 9 };
    const m = new ProcessMetrics({ appendCommits: () => counts });
    let text = await m.prometheusText();
    expect(sample(text, 'longrun_store_append_commits_total')).toBe(2);
    expect(sample(text, 'longrun_store_appends_total')).toBe(9);
    counts = { commits: 5, appends: 40 };
    text = await m.prometheusText();
    expect(sample(text, 'longrun_store_append_commits_total')).toBe(5);
    expect(sample(text, 'longrun_store_appends_total')).toBe(40);
  });

  it('leaves the store gauges out of a scrape when the store does not answer', async () => {
    let up = false;
    const m = new ProcessMetrics({
      countSessions: async () => {
        if (!up) throw new Error('connection refused');
        return counts;
      },
    });
    const text = await m.prometheusText();
    expect(text).not.toMatch(/^longrun_sessions\{/m);
    up = true;
    expect(sample(await m.prometheusText(), 'longrun_claim_queue_depth')).toBe(4);
  });

  it('serves GET /metrics on 127.0.0.1 in the exposition format, and nothing else', async () => {
    const m = new ProcessMetrics({ countSessions: async () => counts });
    const server = await serveMetrics(m, { port: 0 });
    try {
      expect(server.host).toBe('127.0.0.1');
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(
        sample(await res.text(), 'longrun_sessions', { longrun_session_status: 'queued' }),
      ).toBe(3);
      expect((await fetch(`http://127.0.0.1:${server.port}/v1/health`)).status).toBe(404);
    } finally {
      await server.close();
      await m.shutdown();
    }
  });
});
