import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  editFile,
  listFiles,
  readFile,
  runCommand,
  writeFile,
  type AttackPlan,
} from './attack-plan.ts';
import {
  expectCompletedAndSeen,
  expectRefused,
  outcomesOf,
  probeLines,
  type CallOutcome,
} from './attack-assertions.ts';
import { attackHarness, expectWorkerHealthy } from './attack-harness.ts';
import { attackerName } from './attacker-agent.ts';
import { settledWorkspace } from './host-tree.ts';
import { runAttack } from './session-api.ts';

// FIFOs, sockets and device nodes in the workspace, met by the worker's file tools. A FIFO opened
// for reading would block the worker until someone writes; the accessor must refuse without
// opening, at once, and the session must carry on.

const h = attackHarness('special-files');
/** "At once": a refusal takes no longer than this after the previous call's result. */
const refusalMs = 1_000;

/** Each result came within `refusalMs` of the one before (the calls of a turn run in a row). */
function expectPrompt(outcomes: readonly CallOutcome[]): void {
  for (let i = 1; i < outcomes.length; i++) {
    const gap = outcomes[i]!.atMs - outcomes[i - 1]!.atMs;
    expect(gap, `${outcomes[i]!.tool} after ${outcomes[i - 1]!.tool} (ms)`).toBeLessThan(refusalMs);
  }
}

describe('special files in the workspace', () => {
  it('a FIFO: read, write, edit and list answer at once, and the session goes on', async () => {
    const plan: AttackPlan = {
      turns: [
        [runCommand('mkfifo p && mkdir d && mkfifo d/q')],
        [
          readFile('p'),
          writeFile('p', 'into the pipe'),
          editFile('p', 'a', 'b'),
          readFile('d/q'),
          listFiles('.'),
        ],
        [runCommand('echo still here; ls -l p')],
      ],
    };
    const { id, status, events } = await h.vitals.during('fifo', () =>
      runAttack(h.url, attackerName, plan, 30_000),
    );
    const outcomes = outcomesOf(plan, events);
    const [, read, write, edit, readNested, list, after] = outcomes;
    for (const refused of [read, write, edit, readNested]) {
      expectRefused(refused!, 'FILE_TYPE_REFUSED');
      expect(refused!.output).toContain('is a FIFO');
    }
    expectPrompt(outcomes.slice(0, 6));
    expect(list!.output.split('\n')).toEqual(['d/q (special file)', 'p (special file)']);
    expect(after!.output).toMatch(/^exit code 0\nstill here\np/);
    const skipped = events
      .filter((e) => e.type === 'workspace.snapshotted')
      .flatMap((e) => (e.data.skipped ?? []) as { path: string }[]);
    expect(skipped.map((s) => s.path).sort(), 'left out of snapshots, and said so').toEqual([
      'd/q',
      'p',
    ]);
    // Copied back when the run ended, still a FIFO (the copy did not open it either).
    await settledWorkspace(h.workspaceDir(id));
    expect(lstatSync(join(h.workspaceDir(id), 'p')).isFIFO()).toBe(true);
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  });

  it('sockets and device nodes: devices cannot be made, sockets and links to /dev are refused', async () => {
    const probe = `import errno, json, os, socket, stat
def attempt(name, make):
    try:
        make()
        print(json.dumps({'probe': name, 'made': True}))
    except OSError as e:
        print(json.dumps({'probe': name, 'made': False, 'errno': errno.errorcode[e.errno]}))
attempt('char-device', lambda: os.mknod('null-dev', stat.S_IFCHR | 0o666, os.makedev(1, 3)))
attempt('block-device', lambda: os.mknod('sda-dev', stat.S_IFBLK | 0o666, os.makedev(8, 0)))
attempt('hard-link-to-dev-null', lambda: os.link('/dev/null', 'null-link'))
attempt('fifo-by-mknod', lambda: os.mknod('fifo-by-mknod', stat.S_IFIFO | 0o644))
attempt('unix-socket', lambda: socket.socket(socket.AF_UNIX).bind('sock'))
`;
    const plan: AttackPlan = {
      turns: [
        [writeFile('probe.py', probe)],
        [runCommand('python3 probe.py; ln -s /dev/zero zero; ln -s /dev/urandom random')],
        [
          readFile('sock'),
          writeFile('sock', 'x'),
          editFile('sock', 'a', 'b'),
          readFile('zero'),
          readFile('random'),
          listFiles('.'),
        ],
      ],
    };
    const { status, events } = await h.vitals.during('socket and devices', () =>
      runAttack(h.url, attackerName, plan, 30_000),
    );
    const outcomes = outcomesOf(plan, events);
    const [, made, sockRead, sockWrite, sockEdit, zero, random, list] = outcomes;
    const probes: Record<string, unknown> = Object.fromEntries(
      probeLines(made!.output).map((p) => [String(p.probe), p]),
    );
    console.log(`[special-files] inside the sandbox: ${JSON.stringify(probes)}`);
    expect(probes['char-device']).toMatchObject({ made: false, errno: 'EPERM' });
    expect(probes['block-device']).toMatchObject({ made: false, errno: 'EPERM' });
    expect(probes['hard-link-to-dev-null']).toMatchObject({ made: false });
    expect(probes['fifo-by-mknod']).toMatchObject({ made: true });
    expect(probes['unix-socket']).toMatchObject({ made: true });
    for (const refused of [sockRead, sockWrite, sockEdit]) {
      expectRefused(refused!, 'FILE_TYPE_REFUSED');
      expect(refused!.output).toContain('is a socket');
    }
    for (const refused of [zero, random]) expectRefused(refused!, 'FILE_TYPE_REFUSED');
    expectPrompt(outcomes.slice(1, 7));
    expect(list!.output).toContain('sock (special file)');
    expect(list!.output).toContain('zero (symbolic link, not followed)');
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  });
});
