/**
 * A worker process running one test agent, for agent crash tests:
 * `node agent-worker-process.ts <storeUrl> <workerId> <dir>`.
 *
 * The agent's model is scripted (agent-script.ts): each turn is a pure function of the
 * transcript and streams its text slowly (LONGRUN_AGENT_CHUNK_DELAY_MS per 2 characters), so a
 * worker can be killed mid-stream. Its tools cover every effect class, and each writes what it did
 * under `<dir>` — outside longrun — so a test can count what really happened:
 *   add (pure), note (idempotent: writes notes/<name>), charge (keyed: a FileLedger in ledger/),
 *   send_email (unsafe, no verify: one line in unsafe-attempts.log per run),
 *   transfer (unsafe with a verify that checks its own FileLedger in transfers/),
 *   deploy (keyed, needs approval: the ledger in ledger/).
 * `calls.log` gets a line per tool run (`run`) and per verify (`verify`), with the key.
 * `requests.jsonl` gets every request the model received.
 *
 * After its effect a tool blocks on a gate until `<dir>/gates/<tool>` or `<dir>/gates/all` exists
 * (then holds LONGRUN_AGENT_TOOL_HOLD_MS more), so a test can kill the worker between
 * `tool.started` and `tool.completed`. LONGRUN_AGENT_DIE_AT=<event type>[:<tool>] makes the process
 * SIGKILL itself the moment such an event is acknowledged (a precise crash point).
 * LONGRUN_AGENT_FAIL_STEP=<step> makes this process's first model call for that step fail with a
 * retryable MODEL_UNAVAILABLE (after 10 characters of text).
 * LONGRUN_AGENT_BUDGET=<json> gives the agent that budget (its scripted model priced at $1 per
 * thousand tokens); LONGRUN_AGENT_DIE_AFTER_CALL=<n> makes the process SIGKILL itself when its
 * n-th model call has answered, before the harness records the answer (and settles its budget).
 * LONGRUN_TENANT_DAILY_BUDGET=<json> gives every tenant that daily budget (Worker tenantDailyBudgets).
 *
 * Reports on stdout, one line each:
 *   `ready`
 *   `ack <sessionId> <seq> <type> <json detail>`   every event the store acknowledged
 *   `effect <tool> <idempotencyKey> <attempt>`     a tool did its effect (and now waits at its gate)
 *   `ended <sessionId> <outcome>`
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { join } from 'node:path';
import { z } from 'zod';
import {
  workerId,
  type Budget,
  type DailyBudget,
  type ModelClient,
  type StoredEvent,
} from '@longrun/core';
import { Worker, defineAgent, defineTool, type AgentToolContext } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import { FileLedger } from '../ledger/file-ledger.ts';
import {
  crashAgentName,
  scriptCalls,
  scriptSteps,
  scriptText,
  stepOfRequest,
  toolNames,
} from './agent-script.ts';

const [storeUrl = '', id = '', dir = ''] = process.argv.slice(2);
const env = process.env;
const leaseMs = Number(env.LONGRUN_LEASE_MS ?? 2_000);
const pollMs = Number(env.LONGRUN_POLL_MS ?? 20);
const chunkDelayMs = Number(env.LONGRUN_AGENT_CHUNK_DELAY_MS ?? 8);
const textChars = Number(env.LONGRUN_AGENT_TEXT_CHARS ?? 96);
const holdMs = Number(env.LONGRUN_AGENT_TOOL_HOLD_MS ?? 0);
const gateTimeoutMs = 120_000;
const [dieType, dieTool] = (env.LONGRUN_AGENT_DIE_AT ?? '').split(':');

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

mkdirSync(join(dir, 'gates'), { recursive: true });
mkdirSync(join(dir, 'notes'), { recursive: true });
const ledger = new FileLedger(join(dir, 'ledger'));
const transfers = new FileLedger(join(dir, 'transfers'));

function record(line: string[]): void {
  appendFileSync(join(dir, 'calls.log'), `${line.join('\t')}\n`);
}

/** Marks the effect done, then waits until the test opens this tool's gate. */
async function effectDone(tool: string, context: AgentToolContext): Promise<void> {
  out(`effect ${tool} ${context.idempotencyKey} ${context.attempt}`);
  const deadline = Date.now() + gateTimeoutMs;
  while (!existsSync(join(dir, 'gates', tool)) && !existsSync(join(dir, 'gates', 'all'))) {
    if (Date.now() > deadline) throw new Error(`the gate of ${tool} never opened`);
    context.signal.throwIfAborted();
    await sleep(5);
  }
  if (holdMs > 0) await sleep(holdMs);
}

function ran(tool: string, context: AgentToolContext): void {
  record(['run', tool, context.idempotencyKey, String(context.attempt), String(process.pid)]);
}

const tools = [
  defineTool({
    name: toolNames.pure,
    description: 'adds two numbers',
    input: z.object({ a: z.number(), b: z.number() }),
    effect: 'pure',
    async run({ a, b }, context) {
      ran(toolNames.pure, context);
      await effectDone(toolNames.pure, context);
      return a + b;
    },
  }),
  defineTool({
    name: toolNames.idempotent,
    description: 'writes a note (the same note again changes nothing)',
    input: z.object({ name: z.string(), text: z.string() }),
    effect: 'idempotent',
    async run({ name, text }, context) {
      ran(toolNames.idempotent, context);
      writeFileSync(join(dir, 'notes', name), text);
      await effectDone(toolNames.idempotent, context);
      return { written: name };
    },
  }),
  defineTool({
    name: toolNames.keyed,
    description: 'charges an amount through a payment API that honours idempotency keys',
    input: z.object({ amount: z.number() }),
    effect: 'keyed',
    async run({ amount }, context) {
      ran(toolNames.keyed, context);
      const applied = ledger.apply(context.idempotencyKey, `charge ${amount}`);
      await effectDone(toolNames.keyed, context);
      return { charged: amount, appliedNow: applied };
    },
  }),
  defineTool({
    name: toolNames.unsafe,
    description: 'sends an email (no way to tell afterwards whether it went out)',
    input: z.object({ to: z.string() }),
    effect: 'unsafe',
    async run({ to }, context) {
      ran(toolNames.unsafe, context);
      appendFileSync(join(dir, 'unsafe-attempts.log'), `${context.idempotencyKey}\t${to}\n`);
      await effectDone(toolNames.unsafe, context);
      return { sent: to };
    },
  }),
  defineTool({
    name: toolNames.unsafeVerified,
    description: 'transfers money; the bank can be asked afterwards whether it happened',
    input: z.object({ amount: z.number() }),
    effect: 'unsafe',
    async run({ amount }, context) {
      ran(toolNames.unsafeVerified, context);
      transfers.apply(context.idempotencyKey, `transfer ${amount}`);
      await effectDone(toolNames.unsafeVerified, context);
      return { transferred: amount };
    },
    async verify({ amount }, context) {
      const done = transfers.applied().some((a) => a.key === context.idempotencyKey);
      record(['verify', toolNames.unsafeVerified, context.idempotencyKey, String(done)]);
      return done ? { applied: true, output: { transferred: amount } } : { applied: false };
    },
  }),
  defineTool({
    name: toolNames.approval,
    description: 'deploys a service (a person approves each call)',
    input: z.object({ service: z.string() }),
    effect: 'keyed',
    needsApproval: true,
    async run({ service }, context) {
      ran(toolNames.approval, context);
      const applied = ledger.apply(context.idempotencyKey, `deploy ${service}`);
      await effectDone(toolNames.approval, context);
      return { deployed: service, appliedNow: applied };
    },
  }),
];

let failStep = Number(env.LONGRUN_AGENT_FAIL_STEP ?? 0);
const scripted = scriptedModel(
  (request) => {
    const step = stepOfRequest(request.messages);
    const calls = scriptCalls[step - 1] ?? [];
    const text = scriptText(step, textChars);
    if (step === failStep) {
      failStep = 0; // once per process: a provider outage the next attempt gets past
      return { text: text.slice(0, 10), fail: { code: 'MODEL_UNAVAILABLE' } };
    }
    return {
      text,
      toolCalls: calls.map((c, i) => ({ id: `s${step}c${i}`, name: c.name, args: c.args })),
    };
  },
  { id: 'scripted:crash', chunkSize: 2, chunkDelayMs },
);
let calls = 0;
const dieAfterCall = Number(env.LONGRUN_AGENT_DIE_AFTER_CALL ?? 0);
const budget =
  env.LONGRUN_AGENT_BUDGET === undefined
    ? undefined
    : (JSON.parse(env.LONGRUN_AGENT_BUDGET) as Budget);
/** The scripted model, with every request it receives written down first. */
const model: ModelClient = {
  id: scripted.id,
  stream(request, onTextDelta) {
    const { signal: _signal, ...rest } = request;
    appendFileSync(
      join(dir, 'requests.jsonl'),
      `${JSON.stringify({ pid: process.pid, step: stepOfRequest(request.messages), ...rest })}\n`,
    );
    const answered = scripted.stream(request, onTextDelta);
    calls += 1;
    if (calls !== dieAfterCall) return answered;
    // The provider answered (and billed); the harness never learns it.
    return answered.then(() => {
      process.kill(process.pid, 'SIGKILL');
      return new Promise<never>(() => undefined);
    });
  },
};

/**
 * With LONGRUN_AGENT_OUTCOME=1 the agent declares an outcome: its evaluator fails the script's
 * last answer (step `scriptSteps`) and passes the next one, which the script gives after reading
 * the feedback. It decides from its request alone, so every worker process judges the same;
 * `evaluator-requests.jsonl` gets every request it received.
 */
const evaluator: ModelClient = {
  id: 'scripted:evaluator',
  async stream(request) {
    appendFileSync(
      join(dir, 'evaluator-requests.jsonl'),
      `${JSON.stringify({ pid: process.pid, messages: request.messages })}\n`,
    );
    // LONGRUN_AGENT_EVALUATOR_DELAY_MS: a slow evaluator, so a test can kill it mid-evaluation.
    await sleep(Number(env.LONGRUN_AGENT_EVALUATOR_DELAY_MS ?? 0));
    const briefing = request.messages.find((m) => m.role === 'user');
    const revised =
      briefing?.role === 'user' && briefing.content.includes(`Step ${scriptSteps + 1}:`);
    return {
      text: '',
      toolCalls: [
        {
          id: 'verdict',
          name: 'submit_verdict',
          args: {
            verdicts: [
              {
                criterion: 1,
                passed: revised,
                reason: revised ? 'revised after feedback' : 'not revised yet',
              },
            ],
          },
        },
      ],
      finishReason: 'tool-calls',
      usage: { inputTokens: 50, outputTokens: 10 },
      modelId: 'scripted:evaluator',
    };
  },
};

const agent = defineAgent({
  name: crashAgentName,
  model,
  instructions: 'You are the crash-test agent. Follow the script.',
  tools,
  ...(env.LONGRUN_AGENT_OUTCOME === '1'
    ? {
        outcome: {
          rubric: ['the answer is revised after feedback'],
          evaluator: { model: evaluator, commands: false },
        },
      }
    : {}),
  ...(budget === undefined
    ? {}
    : {
        budget,
        prices: {
          'scripted:crash': { inputUsdPerMTok: 1_000, outputUsdPerMTok: 1_000 },
          'scripted:evaluator': { inputUsdPerMTok: 1_000, outputUsdPerMTok: 1_000 },
        },
      }),
  workspaceRoot: join(dir, 'workspaces'),
  // These suites check that an interrupted unsafe call fails closed; asking a person first is
  // tested in packages/runtime (unknown-outcome.test.ts).
  unknownOutcome: 'fail',
});

function detail(e: StoredEvent): string {
  const d = e.data as Record<string, unknown>;
  const pick: Record<string, unknown> = {};
  for (const k of ['step', 'attempt', 'tool', 'callIndex', 'code', 'approvalId']) {
    if (d[k] !== undefined) pick[k] = d[k];
  }
  return JSON.stringify(pick);
}

const store = await openStore(storeUrl, { applicationName: `longrun-agent-crash-${id}` });
const daily =
  env.LONGRUN_TENANT_DAILY_BUDGET === undefined
    ? undefined
    : (JSON.parse(env.LONGRUN_TENANT_DAILY_BUDGET) as DailyBudget);
const worker = new Worker({
  store,
  workerId: workerId(id),
  agents: [agent],
  leaseMs,
  pollMs,
  ...(daily === undefined ? {} : { tenantDailyBudgets: { default: daily } }),
});
worker.on('events.committed', ({ events }) => {
  for (const e of events) {
    out(`ack ${e.sessionId} ${e.seq} ${e.type} ${detail(e)}`);
    const tool = (e.data as { tool?: unknown }).tool;
    if (e.type === dieType && (dieTool === undefined || tool === dieTool)) {
      process.kill(process.pid, 'SIGKILL');
    }
  }
});
worker.on('session.ended', ({ sessionId, outcome }) => out(`ended ${sessionId} ${outcome}`));
worker.on('log', (entry) => process.stderr.write(`${JSON.stringify(entry)}\n`));
await worker.start();
out('ready');
flushCompileCache(); // the next process starts from it, even though this one dies by SIGKILL
process.on('SIGTERM', () => {
  void worker
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
