import { performance } from 'node:perf_hooks';
import { hostname } from 'node:os';
import {
  tenantId,
  terminalText,
  visibleText,
  type StoredEvent,
  type WorkerId,
} from '@longrun/core';
import { Worker } from '@longrun/runtime';
import { defaultStore, parseFlags, UsageError } from '../args.ts';
import { describeEvent } from '../event-lines.ts';
import { exitCodes } from '../exit-codes.ts';
import { loadAgents } from '../load-agents.ts';
import { openStore } from '../store-url.ts';
import { sandboxFlags, sandboxFromFlags } from '../sandbox-flags.ts';
import { usage } from '../usage.ts';
import { budgetFlagOptions, budgetFromFlags } from '../budget-flags.ts';
import { startUnderStableId } from '../worker-ids.ts';

const endings: Record<string, number> = {
  completed: exitCodes.ok,
  failed: exitCodes.failed,
  cancelled: exitCodes.cancelled,
};

/**
 * `longrun run <agent-module> "<task>"`: creates a session and runs it in this process, showing
 * progress live: each step, tool calls and results, the model's text as it streams, tokens and
 * elapsed time. The session is durable: interrupted, it carries on under any worker.
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      json: { type: 'boolean' },
      agent: { type: 'string' },
      tenant: { type: 'string' },
      ...sandboxFlags,
      ...budgetFlagOptions,
    },
    usage.run,
  );
  if (values.help) return (process.stdout.write(`${usage.run}\n`), exitCodes.ok);
  const [modulePath, task] = positionals;
  if (modulePath === undefined || task === undefined || positionals.length > 2) {
    throw new UsageError(`give an agent module and a task in quotes\n\n${usage.run}`);
  }
  const tenant = values.tenant === undefined ? undefined : tenantId(values.tenant);
  const budget = budgetFromFlags(values);
  const sandbox = await sandboxFromFlags(values, await loadAgents([modulePath]));
  const { agents } = sandbox;
  const agent =
    values.agent === undefined ? agents[0] : agents.find((a) => a.name === values.agent);
  if (agent === undefined || (values.agent === undefined && agents.length > 1)) {
    throw new UsageError(
      `${modulePath} exports agents ${agents.map((a) => a.name).join(', ')}; pick one with --agent`,
    );
  }
  const store = await openStore(values.store ?? defaultStore);
  const session = await store.createSession({
    agent: agent.name,
    input: { task },
    ...(tenant === undefined ? {} : { tenantId: tenant }),
    // The flags are the local admin's: they may raise the agent's own limits.
    ...(budget === undefined ? {} : { budget, budgetSetBy: { by: 'cli', mayRaise: true } }),
  });
  const startedAt = performance.now();
  const out = (text: string): boolean => process.stdout.write(text);
  const tokens = { input: 0, output: 0 };
  let streaming = false;
  const endStream = (): void => {
    if (streaming) out('\n');
    streaming = false;
  };
  const elapsed = (): string => `${((performance.now() - startedAt) / 1000).toFixed(1)} s`;
  if (!values.json) out(`session ${session.id} · agent ${agent.name} · store ${store.kind}\n`);
  process.once('SIGINT', () => {
    endStream();
    process.stderr.write(
      `\ninterrupted; session ${session.id} is durable: \`longrun worker\` carries it on, \`longrun sessions tail ${session.id}\` follows it\n`,
    );
    process.exit(exitCodes.interrupted);
  });

  let finished: (status: string) => void = () => undefined;
  const done = new Promise<string>((r) => (finished = r));
  const onEvent = (e: StoredEvent): void => {
    if (values.json) return void out(`${JSON.stringify(e)}\n`);
    if (e.type === 'model.responded') {
      tokens.input += e.data.usage.inputTokens;
      tokens.output += e.data.usage.outputTokens;
      endStream();
      out(
        `  · step ${e.data.step} · ${tokens.input} in / ${tokens.output} out tokens · ${elapsed()}\n`,
      );
      for (const call of e.data.toolCalls)
        out(`  → ${call.tool} ${visibleText(JSON.stringify(call.args)).slice(0, 200)}\n`);
      return;
    }
    if (e.type === 'tool.completed') {
      const first = terminalText(JSON.stringify(e.data.output).slice(0, 160));
      return void out(`  ${e.data.ok ? '✓' : '✗'} ${e.data.tool}: ${first}\n`);
    }
    if (e.type === 'model.streamed' || e.type === 'model.requested' || e.type === 'tool.started')
      return;
    endStream();
    const line = describeEvent(e);
    if (line !== null) out(`${line.replace(/^seq +\d+ +/, '  ')}\n`);
    if (e.type === 'approval.requested')
      out(
        `    read:    longrun sessions approvals ${session.id} ${e.data.approvalId}   (its whole arguments)\n    approve: longrun sessions approve ${session.id} ${e.data.approvalId}\n    deny:    longrun sessions deny ${session.id} ${e.data.approvalId}\n`,
      );
  };
  // Events print once, in seq order, whichever way they arrive: from this process's worker as
  // it commits them, or read from the store when another worker (a `longrun worker` on the same
  // store) runs the session.
  let printed = 0;
  const printOnce = (e: StoredEvent): void => {
    if (e.seq <= printed) return;
    printed = e.seq;
    onEvent(e);
  };
  let following = true;
  const followStore = async (): Promise<void> => {
    while (following) {
      await new Promise((r) => setTimeout(r, 250));
      try {
        for (;;) {
          const page = await store.readEvents(session.id, printed, 500);
          page.forEach(printOnce);
          if (page.length < 500) break;
        }
        const { status } = await store.getSession(session.id);
        if (status === 'completed' || status === 'failed' || status === 'cancelled') {
          endStream();
          finished(status);
        }
      } catch {
        // The store did not answer this time (a restart): the next round reads again.
      }
    }
  };
  const follow = (worker: Worker): void => {
    worker.on('model.delta', ({ sessionId, text }) => {
      if (sessionId !== session.id || values.json) return;
      if (!streaming) out('  ');
      streaming = true;
      out(terminalText(text).replaceAll('\n', '\n  '));
    });
    worker.on('events.committed', ({ sessionId, events }) => {
      if (sessionId === session.id) events.forEach(printOnce);
    });
    worker.on('session.ended', ({ sessionId, outcome }) => {
      if (
        sessionId === session.id &&
        (outcome === 'completed' || outcome === 'failed' || outcome === 'cancelled')
      )
        finished(outcome);
    });
    worker.on('log', (entry) => {
      if (entry.level !== 'info') process.stderr.write(`${entry.level}: ${entry.msg}\n`);
    });
  };
  const worker = await startUnderStableId(`${hostname()}-run`, (id: WorkerId) => {
    // One session in the foreground: schedules are fired by `longrun worker` and `dev`, not here.
    const built = new Worker({ store, agents, workerId: id, pollMs: 50, schedules: false });
    follow(built);
    return built;
  });
  const storeFollower = followStore();
  const status = await done;
  following = false;
  await storeFollower;
  await worker.stop();
  endStream();
  const final = await store.getSession(session.id);
  if (!values.json)
    out(
      `${status} in ${elapsed()} · ${tokens.input} in / ${tokens.output} out tokens${final.statusReason ? ` · ${terminalText(final.statusReason)}` : ''}\n`,
    );
  await sandbox.close();
  await store.close();
  return endings[status] ?? exitCodes.failed;
}
