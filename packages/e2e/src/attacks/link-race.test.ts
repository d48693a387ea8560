import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  editFile,
  listFiles,
  readFile,
  runCommand,
  writeFile,
  type AttackCall,
  type AttackPlan,
} from './attack-plan.ts';
import { expectCompletedAndSeen, expectNowhereIn, outcomesOf } from './attack-assertions.ts';
import { attackHarness, expectWorkerHealthy } from './attack-harness.ts';
import { attackerName, shortFuseName } from './attacker-agent.ts';
import { describeTree } from './host-tree.ts';
import { runAttack } from './session-api.ts';

// A link swapped in between the worker's check and its use: a loop inside the sandbox exchanges
// a real directory and a link to a host directory (renameat2 RENAME_EXCHANGE) as fast as it can,
// while the file tools aim at a path through it. Through longrun, a session's tool calls run one
// after another and every command is a fresh bubblewrap whose pid namespace dies with it, so the
// racer must outlive its command to overlap a file tool: the command backgrounds it (detached
// with setsid), or the command is killed at its timeout with the racer still looping. The racer
// writes a heartbeat (wall clock, swaps) to the workspace every 2 ms; the accessor-level race
// itself, with a racer that does overlap, is the unit test workspace/src/snapshot-race.test.ts.

const h = attackHarness('link-race');

const racer = `import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD, RENAME_EXCHANGE = -100, 2
marker, target, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
os.makedirs('real', exist_ok=True)
open('real/decoy.txt', 'w').write('decoy\\n')
os.symlink(target, 'race')
beat = os.open('heartbeat', os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
swaps, last, end = 0, 0.0, time.time() + seconds
while time.time() < end:
    if libc.renameat2(AT_FDCWD, b'race', AT_FDCWD, b'real', RENAME_EXCHANGE) == 0:
        swaps += 1
    now = time.time()
    if now - last > 0.002:
        last = now
        os.pwrite(beat, ('%.6f %d' % (now, swaps)).ljust(40).encode(), 0)
`;

/** Every file tool, three times over, at paths that go through the swapping name. */
function toolsThroughTheRace(): AttackCall[] {
  const once = [
    writeFile('race/pwned.txt', 'planted through the race'),
    readFile('race/secret.txt'),
    editFile('race/secret.txt', 'host', 'pwned'),
    writeFile('race/secret.txt', 'overwritten'),
    listFiles('race'),
  ];
  return [...once, ...once, ...once];
}

/** Host processes whose command line holds `marker` (the racer's first argument). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) pids.push(Number(name));
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
}

async function raceAttack(label: string, agent: string, launch: (args: string) => string) {
  const target = join(h.hostDir, `target-${h.token(8)}`);
  const secret = `host-secret-${h.token()}`;
  const marker = `racer-${h.token()}`;
  mkdirSync(target);
  writeFileSync(join(target, 'secret.txt'), `${secret}\n`);
  const before = describeTree(target);
  const plan: AttackPlan = {
    turns: [
      [writeFile('racer.py', racer)],
      [runCommand(launch(`python3 racer.py ${marker} ${target} 60`)), ...toolsThroughTheRace()],
      [runCommand('cat heartbeat')],
    ],
  };
  const { status, events } = await h.vitals.during(label, () =>
    runAttack(h.url, agent, plan, 60_000),
  );
  const outcomes = outcomesOf(plan, events);
  const command = outcomes[1]!;
  // The heartbeat as the next command read it (the racer's last write).
  const beat = /^exit code 0\n(\S+) (\d+)/.exec(outcomes.at(-1)?.output ?? '');
  const [, beatSeconds = '0', swaps = '0'] = beat ?? [];
  const lastBeatMs = Number(beatSeconds) * 1000;
  const codes = outcomes
    .slice(2, -1)
    .map((o) => `${o.tool}:${o.errorCode ?? (o.ok ? 'ok' : 'error')}`);
  console.log(
    `[link-race] ${label}: ${swaps} swaps; last heartbeat ${Math.round(command.atMs - lastBeatMs)} ms before the command's result committed; file tools ${JSON.stringify(codes)}`,
  );
  expect(Number(swaps), 'the racer ran').toBeGreaterThan(100);
  expect(lastBeatMs, 'the racer died before the command result committed').toBeLessThan(
    command.atMs,
  );
  expect(processesWith(marker), 'racer processes left on the host').toEqual([]);
  // The racer stopped with `race` either the link or the real directory, and every file tool
  // saw that one state: refused throughout, or acting inside the workspace throughout. A racer
  // still swapping would show a mix.
  const tools = outcomes.slice(2, -1);
  const refused = tools.filter((o) => o.errorCode === 'FILE_TYPE_REFUSED').length;
  expect([0, tools.length], `refusals among ${JSON.stringify(codes)}`).toContain(refused);
  for (const o of tools) {
    const insideWorkspace =
      o.ok || o.errorCode === 'NOT_FOUND' || /^tool edit_file failed: old_text/.test(o.output);
    expect(insideWorkspace || o.errorCode === 'FILE_TYPE_REFUSED', o.output).toBe(true);
  }
  expectNowhereIn(events, secret);
  expect(describeTree(target), 'the host directory behind the link').toEqual(before);
  expectCompletedAndSeen(status, events);
  expectWorkerHealthy(h.vitals.figures.at(-1)!);
  return command;
}

describe('a link swapped in between check and use', () => {
  it('a racer detached from a command that exits dies with it, before any file tool runs', async () => {
    const command = await raceAttack(
      'racer detached, command exits',
      attackerName,
      (args) => `setsid -f ${args} > /dev/null 2>&1; sleep 1; echo left it running`,
    );
    expect(command.output).toBe('exit code 0\nleft it running\n');
  });

  it('a racer still looping when its command is killed at the timeout dies with it', async () => {
    const command = await raceAttack(
      'racer running at the timeout',
      shortFuseName,
      (args) => `${args} & sleep 60`,
    );
    expect(command.output).toMatch(/^timed out after \d+ ms/);
  });
});
