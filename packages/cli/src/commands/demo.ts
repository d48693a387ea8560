import { createHash } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import {
  terminalStatuses,
  workerId,
  type SessionRecord,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import { Worker, loadState } from '@longrun/runtime';
import { defaultStore, intFlag, parseFlags } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';
import { describeEvent } from '../event-lines.ts';
import { demoAgent, demoAgentName as agent, type DemoInput } from './demo-agent.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      steps: { type: 'string' },
      'delay-ms': { type: 'string' },
      'crash-at-step': { type: 'string' },
      new: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    usage.demo,
  );
  if (values.help) return (process.stdout.write(`${usage.demo}\n`), exitCodes.ok);
  const steps = intFlag(values.steps, 'steps', 40, { min: 1, max: 100_000 });
  const delayMs = intFlag(values['delay-ms'], 'delay-ms', 120);
  const crashAtStep = intFlag(values['crash-at-step'], 'crash-at-step', 0);
  const storeUrl = values.store ?? defaultStore;
  const say = values.json ? () => undefined : (line: string) => process.stdout.write(`${line}\n`);

  const store = await openStore(storeUrl);
  const durability = store.durability();
  say(
    `longrun demo — ${store.kind} store ${storeUrl} (${Object.entries(durability.settings)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')})`,
  );
  const session = await pickSession(store, Boolean(values.new), { steps, toolDelayMs: delayMs });
  const { state } = await loadState(store, session.id);
  say(
    session.headSeq === 1
      ? `session ${session.id}: new, ${steps} steps`
      : `session ${session.id}: resuming at step ${state.steps} (seq ${session.headSeq}, ${session.status}) — nothing done before is done again`,
  );
  say('Interrupt it any time (Ctrl-C or kill -9) and run the same command again: it carries on.\n');

  process.once('SIGINT', () => {
    say('\ninterrupted: the log is durable; run the same command to resume');
    process.exit(exitCodes.interrupted); // no clean-up on purpose: a crash loses nothing either
  });

  const storeDir = storeUrl.includes('://') ? resolve('.longrun') : dirname(resolve(storeUrl));
  let finished: (outcome: string) => void = () => undefined;
  const done = new Promise<string>((r) => (finished = r));
  const worker = new Worker({
    store,
    workerId: workerId(
      `demo-${createHash('sha256').update(resolve(storeUrl)).digest('hex').slice(0, 12)}`,
    ),
    agents: [demoAgent(join(storeDir, 'demo'))],
    pollMs: 20,
    schedules: false,
  });
  worker.on('events.committed', ({ events }) => {
    for (const e of events) {
      if (values.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else {
        // The model's closing answer (a turn past the last step) is said by `session completed`.
        const closing = e.type === 'model.responded' && e.data.step > steps;
        const line = closing ? null : describeEvent(e, { totalSteps: steps, modelText: false });
        if (line !== null) say(line);
      }
      maybeCrash(e, crashAtStep);
    }
  });
  worker.on('append.stalled', ({ error }) => say(`  ! stalled: ${error.message} — retrying`));
  worker.on('append.recovered', () => say('  ✓ store writable again, continuing'));
  worker.on('session.ended', ({ sessionId, outcome }) => {
    if (sessionId === session.id && outcome !== 'waiting' && outcome !== 'stopped')
      finished(outcome);
  });
  worker.on('log', (entry) => {
    if (entry.level !== 'info') process.stderr.write(`${entry.level}: ${entry.msg}\n`);
  });
  await worker.start();
  const outcome = await done;
  await worker.stop();
  const final = await store.getSession(session.id);
  const effects = await store.listEffects(session.id);
  const reRun = effects.filter((e) => e.attempts > 1).length;
  say(
    `\n${final.status}: ${final.headSeq} events, ${effects.length} tool calls recorded, ${reRun} re-run after a crash with the same idempotency key`,
  );
  await store.close();
  return outcome === 'completed' ? exitCodes.ok : exitCodes.failed;
}

async function pickSession(
  store: SessionStore,
  fresh: boolean,
  input: DemoInput,
): Promise<SessionRecord> {
  if (!fresh) {
    let afterId: SessionRecord['id'] | undefined;
    let unfinished: SessionRecord | undefined;
    for (;;) {
      const page = await store.listSessions({ limit: 500, ...(afterId ? { afterId } : {}) });
      unfinished =
        page.filter((s) => s.agent === agent && !terminalStatuses.includes(s.status)).at(-1) ??
        unfinished;
      if (page.length < 500) break;
      afterId = page.at(-1)?.id;
    }
    if (unfinished) return unfinished;
  }
  return store.createSession({ agent, input: { ...input } });
}

/** --crash-at-step: dies like a killed machine right after the step's tool call is recorded as started. */
function maybeCrash(event: StoredEvent, crashAtStep: number): void {
  if (crashAtStep > 0 && event.type === 'tool.started' && event.data.step === crashAtStep) {
    process.stdout.write(
      `  ✗ --crash-at-step ${crashAtStep}: SIGKILL now, with the tool call in flight\n`,
    );
    process.kill(process.pid, 'SIGKILL');
  }
}
