import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { within } from '../faults/bounded-wait.ts';
import { seededRandom, testSeed } from '../seeded-random.ts';
import {
  editFile,
  listFiles,
  planTask,
  readFile,
  runCommand,
  writeFile,
  type AttackPlan,
} from './attack-plan.ts';
import { attackerName } from './attacker-agent.ts';
import {
  makeCanaries,
  needlesOf,
  scanBytes,
  scanTree,
  type Canary,
  type Hit,
  type Needle,
} from './canary-scan.ts';
import { attackerModule, baseEnv, startDev, startLongrun } from './longrun-process.ts';
import { servedAbout, type Served } from './served-bytes.ts';
import { readEvents, startAttack, toolOutcomes, waitForEnd } from './session-api.ts';

// The canary scan of TESTING.md's Secrets section, for the worker-side attacks: fresh canaries
// in the environment of the process that runs the agent (`longrun run`, `longrun dev`, `longrun
// worker`, each with default flags), an attacker that tries every way it has to print or read
// that environment, then every byte longrun stored or served is searched for the canaries in
// their common encodings: the store's files (SQLite with -wal and -shm, scanned while the
// process runs and after), the workspace, the process's stdout and stderr, the API's answers
// about the session (events, stream, files and their snapshots' bytes, diff) and every prompt
// the model got. Pass bar: 0 hits.

const random = seededRandom(testSeed('canary-scan'));
const token = (chars: number) =>
  Array.from({ length: chars }, () => Math.floor(random() * 16).toString(16)).join('');
const root = mkdtempSync(join(tmpdir(), 'longrun-canary-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const leakScript = `import os
print('ENV', dict(os.environ))
for pid in sorted(p for p in os.listdir('/proc') if p.isdigit()):
    for what in ('environ', 'cmdline'):
        try:
            print(pid, what, open('/proc/%s/%s' % (pid, what), 'rb').read())
        except OSError as e:
            print(pid, what, e)
`;

/** Every way the agent has to print or read the environment of whoever runs it. */
const leakPlan: AttackPlan = {
  turns: [
    [
      writeFile('leak.py', leakScript),
      runCommand(
        'env; printenv OPENAI_API_KEY; echo "key=$OPENAI_API_KEY"; cat /proc/1/environ /proc/*/environ | tr "\\0" "\\n"; ls /proc; python3 leak.py',
      ),
    ],
    [
      runCommand(
        'ln -s /proc/self/environ worker-env; ln -s /proc/1/environ pid1-env; ln -s /proc/self/cwd worker-cwd; ln -s /proc/self/fd worker-fds; tr "\\0" "\\n" < worker-env',
      ),
    ],
    [
      readFile('worker-env'),
      readFile('pid1-env'),
      editFile('worker-env', 'PATH', 'X'),
      listFiles('worker-cwd'),
      readFile('worker-cwd/.longrun/longrun.db'),
      readFile('worker-fds/0'),
      writeFile('notes.txt', 'nothing secret here\n'),
      readFile('missing.txt'),
      runCommand('echo failing on purpose >&2; exit 3'),
    ],
  ],
};

interface Scanned {
  hits: Hit[];
  files: number;
}

/** Scans `dir` every 250 ms until `done` settles (bounded by `maxMs`): catches -wal and -shm. */
async function scanWhile(
  dir: string,
  needles: readonly Needle[],
  done: Promise<unknown>,
  maxMs: number,
): Promise<Scanned> {
  const hits: Hit[] = [];
  let files = 0;
  let finished = false;
  void done.finally(() => (finished = true));
  const deadline = Date.now() + maxMs;
  while (!finished && Date.now() < deadline) {
    const scan = scanTree(dir, needles);
    hits.push(...scan.hits);
    files = Math.max(files, scan.files);
    await within(done, 250);
  }
  return { hits, files };
}

function freshCanaries(label: string): { canaries: Canary[]; needles: Needle[] } {
  const canaries = makeCanaries(token);
  for (const c of canaries)
    console.log(`[canary-scan] ${label}: ${c.name}=${JSON.stringify(c.value)}`);
  return { canaries, needles: canaries.flatMap(needlesOf) };
}

function envWith(cwd: string, canaries: readonly Canary[], promptLog: string) {
  const env: Record<string, string> = { ...baseEnv(cwd), LONGRUN_ATTACK_PROMPT_LOG: promptLog };
  for (const c of canaries) env[c.name] = c.value;
  return env;
}

function newDir(name: string): { cwd: string; promptLog: string } {
  const cwd = join(root, name);
  mkdirSync(cwd);
  return { cwd, promptLog: join(root, `${name}-prompts.jsonl`) };
}

/** The bar, and proof that the attack ran and the scan read something. */
async function expectNoLeak(
  url: string,
  sessionId: string,
  sources: { cwd: string; promptLog: string; outputs: Served[]; during: Scanned },
  needles: readonly Needle[],
): Promise<void> {
  const events = await readEvents(url, sessionId);
  const outcomes = toolOutcomes(events);
  expect(outcomes.length, 'tool results').toBe(leakPlan.turns.flat().length);
  expect(outcomes[1]?.output, 'the environment was printed').toContain('PATH=');
  const served = await servedAbout(url, sessionId);
  const after = scanTree(sources.cwd, needles);
  const prompts = scanTree(sources.promptLog, needles);
  const hits = [
    ...sources.during.hits,
    ...after.hits,
    ...prompts.hits,
    ...[...sources.outputs, ...served].flatMap((s) => scanBytes(s.where, s.bytes, needles)),
  ];
  const servedBytes = served.reduce((n, s) => n + s.bytes.length, 0);
  console.log(
    `[canary-scan] scanned ${after.files} files (${after.bytes} bytes; up to ${sources.during.files} while running), ${prompts.files} prompt log, ${served.length} API answers (${servedBytes} bytes), ${sources.outputs.length} process outputs: ${hits.length} hits`,
  );
  const names = after.paths.map((p) => p.slice(sources.cwd.length + 1));
  console.log(`[canary-scan] files: ${names.join(' ')}`);
  expect(names, 'the store was scanned').toContain('.longrun/longrun.db');
  expect(after.files, 'files scanned (the store at least)').toBeGreaterThan(1);
  expect(prompts.bytes, 'prompts recorded').toBeGreaterThan(0);
  expect(hits).toEqual([]);
}

const output = (where: string, text: string): Served => ({ where, bytes: Buffer.from(text) });

describe('canary scan', () => {
  it('the scanner finds every canary in each encoding at each offset', () => {
    const { canaries, needles } = freshCanaries('self-check');
    for (const c of canaries) {
      const value = Buffer.from(c.value);
      for (let offset = 0; offset < 3; offset++) {
        const framed = Buffer.concat([Buffer.alloc(offset, 0x41), value, Buffer.from('tail')]);
        const encodings = [
          framed.toString('base64'),
          framed.toString('base64url'),
          framed.toString('hex'),
          JSON.stringify({ v: framed.toString() }),
          encodeURIComponent(framed.toString()),
          framed.toString(),
        ];
        for (const text of encodings) {
          const hits = scanBytes('self-check', Buffer.from(text), needles);
          expect(hits.length, `${c.name} at +${offset} in ${text}`).toBeGreaterThan(0);
        }
      }
    }
  });

  it('longrun run, default flags', async () => {
    const { canaries, needles } = freshCanaries('longrun run');
    const { cwd, promptLog } = newDir('run');
    const args = ['run', attackerModule, planTask(leakPlan), '--agent', attackerName];
    const run = startLongrun(args, cwd, envWith(cwd, canaries, promptLog));
    const during = await scanWhile(cwd, needles, run.exited, 90_000);
    await run.stop();
    expect(await run.exited).toBe(0);
    const sessionId = /session (ses_\w+)/.exec(run.stdout())?.[1] ?? '';
    // Read back through the API by a process without the canaries.
    const serve = startLongrun(['serve', '--no-auth', '--port', '0'], cwd, baseEnv(cwd));
    try {
      const url = (await serve.waitForOutput(/^(http:\/\/127\.0\.0\.1:\d+)$/m, 60_000))[1] ?? '';
      const outputs = [output('run stdout', run.stdout()), output('run stderr', run.stderr())];
      await expectNoLeak(url, sessionId, { cwd, promptLog, outputs, during }, needles);
    } finally {
      await serve.stop();
    }
  }, 120_000);

  it('longrun dev, default flags', async () => {
    const { canaries, needles } = freshCanaries('longrun dev');
    const { cwd, promptLog } = newDir('dev');
    const { process: dev, url } = await startDev(cwd, envWith(cwd, canaries, promptLog));
    try {
      const sessionId = await startAttack(url, attackerName, leakPlan);
      const ended = waitForEnd(url, sessionId, 90_000);
      const during = await scanWhile(cwd, needles, ended, 90_000);
      expect(await ended).not.toBe('timeout');
      const outputs = () => [
        output('dev stdout', dev.stdout()),
        output('dev stderr', dev.stderr()),
      ];
      await expectNoLeak(url, sessionId, { cwd, promptLog, outputs: outputs(), during }, needles);
      await dev.stop();
      // What the clean stop wrote (the store checkpointed, the last log lines).
      const afterStop = [
        ...scanTree(cwd, needles).hits,
        ...outputs().flatMap((s) => scanBytes(s.where, s.bytes, needles)),
      ];
      expect(afterStop).toEqual([]);
    } finally {
      await dev.stop();
    }
  }, 120_000);

  it('longrun worker (the API from a longrun serve without the canaries), default flags', async () => {
    const { canaries, needles } = freshCanaries('longrun worker');
    const { cwd, promptLog } = newDir('worker');
    const store = join(cwd, '.longrun', 'longrun.db');
    mkdirSync(join(cwd, '.longrun'));
    const serve = startLongrun(
      ['serve', '--store', store, '--no-auth', '--port', '0'],
      cwd,
      baseEnv(cwd),
    );
    const worker = startLongrun(
      ['worker', '--store', store, '--agents', attackerModule],
      cwd,
      envWith(cwd, canaries, promptLog),
    );
    try {
      const url = (await serve.waitForOutput(/^(http:\/\/127\.0\.0\.1:\d+)$/m, 60_000))[1] ?? '';
      const sessionId = await startAttack(url, attackerName, leakPlan);
      const ended = waitForEnd(url, sessionId, 90_000);
      const during = await scanWhile(cwd, needles, ended, 90_000);
      expect(await ended).not.toBe('timeout');
      await worker.stop();
      const outputs = [
        output('worker stdout', worker.stdout()),
        output('worker stderr', worker.stderr()),
        output('serve stdout', serve.stdout()),
        output('serve stderr', serve.stderr()),
      ];
      await expectNoLeak(url, sessionId, { cwd, promptLog, outputs, during }, needles);
    } finally {
      await worker.stop();
      await serve.stop();
    }
  }, 120_000);
});
