import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonValue, StoredEvent } from '@longrun/core';
import {
  readBundle,
  ReplayClock,
  replaySession,
  toolInputEntry,
  type Divergence,
  type RequestFingerprint,
  type ReplayResult,
} from '@longrun/runtime';
import { intFlag, parseFlags, UsageError } from '../args.ts';
import { exitCodes } from '../exit-codes.ts';
import { loadAgents } from '../load-agents.ts';
import { demoAgent } from './demo-agent.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';

const bundledExample = 'examples/fix-failing-test';

function jsonLines<T>(bytes: Buffer | undefined): T[] {
  if (bytes === undefined) return [];
  return bytes
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

/**
 * `longrun replay <bundle>`: re-runs a debug bundle's session offline — the agent's harness as
 * its module defines it now, against the recorded model responses and tool results, on a
 * temporary SQLite store, with no network and no tool run — and reports the first divergence
 * from the recorded events. Exit code 0: identical; 1: a divergence.
 */
export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      agents: { type: 'string', multiple: true },
      json: { type: 'boolean' },
      'timeout-ms': { type: 'string' },
    },
    usage.replay,
  );
  if (values.help) return (process.stdout.write(`${usage.replay}\n`), exitCodes.ok);
  const [path] = positionals;
  if (path === undefined || positionals.length > 1) {
    throw new UsageError(`give one bundle file\n\n${usage.replay}`);
  }
  if (!existsSync(path)) throw new UsageError(`no bundle at ${path}`);
  const files = await readBundle(path);
  const events = jsonLines<StoredEvent>(files.get('session.jsonl'));
  const requests = jsonLines<RequestFingerprint>(files.get('requests.jsonl'));
  const created = events[0];
  if (created?.type !== 'session.created') {
    throw new UsageError(`${path} is not a debug bundle: its session.jsonl is missing or empty`);
  }
  const paths = values.agents ?? (existsSync(bundledExample) ? [bundledExample] : []);
  const dir = mkdtempSync(join(tmpdir(), 'longrun-replay-store-'));
  // `longrun demo`'s agent is longrun's own: its bundles replay with no module to give. Its
  // tools never run in a replay, so their ledger directory is the replay's own.
  const builtIn = values.agents === undefined ? [demoAgent(join(dir, 'demo'))] : [];
  const agent = await loadAgents(paths).then(
    (loaded) => [...loaded, ...builtIn].find((a) => a.name === created.data.agent),
    (error: unknown) => {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    },
  );
  if (agent === undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new UsageError(
      `the bundle's session is of agent ${JSON.stringify(created.data.agent)}: give the module that defines it with --agents`,
    );
  }
  const state = files.get('last_state.json');
  const tenantId = state
    ? (JSON.parse(state.toString('utf8')) as { session?: { tenantId?: string } }).session?.tenantId
    : undefined;
  // Timer waits are skipped, not waited for: the replay's store runs on a clock it moves forward.
  const clock = new ReplayClock();
  const store = await openStore(join(dir, 'replay.db'), { clock });
  try {
    const result = await replaySession({
      store,
      clock,
      agent,
      events,
      requests,
      inputs: async (hash) => files.get(toolInputEntry(hash)) ?? null,
      ...(tenantId === undefined ? {} : { tenantId }),
      timeoutMs: intFlag(values['timeout-ms'], 'timeout-ms', 120_000, { min: 1 }),
    });
    process.stdout.write(
      values.json === true ? `${JSON.stringify(result)}\n` : `${report(result).join('\n')}\n`,
    );
    return result.divergence === null ? exitCodes.ok : exitCodes.failed;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function show(value: JsonValue | null): string {
  const text = JSON.stringify(value);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function report(r: ReplayResult): string[] {
  const head = `replayed ${r.sessionId}: ${r.replayedEvents} events (${r.copied} copied from a fork's source, ${r.inputs} inputs fed from the recording), ${r.recordedEvents} recorded; session ${r.status}`;
  if (r.divergence === null) return [head, '0 divergences'];
  return [head, ...divergenceLines(r.divergence)];
}

function divergenceLines(d: Divergence): string[] {
  return [
    `divergence at compared event ${d.index + 1}: recorded seq ${d.expectedSeq ?? '(none)'} ${d.expectedType ?? '(no more events)'}, replayed seq ${d.gotSeq ?? '(none)'} ${d.gotType ?? '(no more events)'}`,
    `  expected: ${show(d.expected)}`,
    `  got:      ${show(d.got)}`,
    ...d.diff.map((line) => `  ${line}`),
  ];
}
