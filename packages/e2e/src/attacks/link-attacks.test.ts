import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
  expectNowhereIn,
  expectRefused,
  outcomesOf,
  probeLines,
} from './attack-assertions.ts';
import { attackHarness, expectWorkerHealthy } from './attack-harness.ts';
import { attackerName } from './attacker-agent.ts';
import { describeTree, existsNoFollow, settledWorkspace } from './host-tree.ts';
import { runAttack } from './session-api.ts';

// Links and hard links planted by the agent's own commands, then used through its file tools:
// the worker (root, outside any sandbox) must never follow one to the host.

const h = attackHarness('link-attacks');
const created: string[] = [];
afterAll(() => created.forEach((path) => rmSync(path, { recursive: true, force: true })));

describe('links planted in the workspace', () => {
  it('a link whose target does not exist yet: no host file is created through it', async () => {
    const target = `/root/created-by-attack-${h.token()}`;
    created.push(target, `${target}-dir`);
    console.log(`[link-attacks] dangling target ${target}`);
    const plan: AttackPlan = {
      turns: [
        [
          runCommand(
            `ln -s ${target} planted && ln -s ${target}-dir planted-dir && mkdir real && ln -s ${target}-dir real/inner`,
          ),
        ],
        [
          writeFile('planted', 'written through a link'),
          editFile('planted', 'a', 'b'),
          writeFile('planted-dir/new.txt', 'x'),
          writeFile('real/inner/new.txt', 'x'),
          listFiles('.'),
        ],
        [runCommand('ls -l planted planted-dir real/inner')],
      ],
    };
    const { status, events } = await h.vitals.during('dangling link', () =>
      runAttack(h.url, attackerName, plan),
    );
    const [made, write, edit, writeUnder, writeDeeper, list, after] = outcomesOf(plan, events);
    expect(made?.output).toMatch(/^exit code 0\n/);
    for (const refused of [write, edit, writeUnder, writeDeeper]) {
      expectRefused(refused!, 'FILE_TYPE_REFUSED');
    }
    expect(list?.output).toContain('planted (symbolic link, not followed)');
    // The links are still links: the write did not replace one, let alone go through it.
    expect(after?.output).toMatch(/planted -> \/root\/created-by-attack-/);
    expect(existsNoFollow(target), target).toBe(false);
    expect(existsNoFollow(`${target}-dir`), `${target}-dir`).toBe(false);
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  });

  it('links to existing host files and directories: nothing read, written or listed there', async () => {
    const victim = join(h.hostDir, `victim-${h.token(8)}`);
    const secret = `host-secret-${h.token()}`;
    mkdirSync(victim);
    writeFileSync(join(victim, 'secret.txt'), `${secret}\n`);
    chmodSync(join(victim, 'secret.txt'), 0o600);
    const before = describeTree(victim);
    const plan: AttackPlan = {
      turns: [
        [runCommand(`ln -s ${victim}/secret.txt s && ln -s ${victim} d`)],
        [
          readFile('s'),
          readFile('d/secret.txt'),
          editFile('s', 'host', 'pwned'),
          editFile('d/secret.txt', 'host', 'pwned'),
          writeFile('s', 'overwritten'),
          writeFile('d/secret.txt', 'overwritten'),
          writeFile('d/new.txt', 'planted'),
          listFiles('d'),
        ],
        [
          readFile(`${victim}/secret.txt`),
          readFile(`../../../../../../..${victim}/secret.txt`),
          writeFile('/workspace/../escaped.txt', 'x'),
        ],
      ],
    };
    const { status, events } = await h.vitals.during('links to host files', () =>
      runAttack(h.url, attackerName, plan),
    );
    const outcomes = outcomesOf(plan, events);
    for (const o of outcomes.slice(1, 9)) expectRefused(o, 'FILE_TYPE_REFUSED');
    for (const o of outcomes.slice(9)) expectRefused(o, 'PATH_OUTSIDE_WORKSPACE');
    expectNowhereIn(events, secret);
    expect(describeTree(victim)).toEqual(before);
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  });
});

/** Hard links across mounts, from inside the sandbox; errno by name for each. */
const hardLinkProbe = `import errno, json, os
for target in ['/etc/hosts', '/usr/bin/env', '/proc/self/environ', '/proc/1/environ']:
    try:
        os.link(target, 'hl-' + target.replace('/', '_'))
        print(json.dumps({'probe': target, 'linked': True}))
    except OSError as e:
        print(json.dumps({'probe': target, 'linked': False, 'errno': errno.errorcode[e.errno]}))
`;

describe('hard links', () => {
  it('cannot reach host files, and writing one of two linked workspace names leaves the other', async () => {
    const plan: AttackPlan = {
      turns: [
        [writeFile('probe.py', hardLinkProbe), writeFile('a.txt', 'original a\n')],
        [runCommand('python3 probe.py; ln a.txt b.txt && ln a.txt c.txt && stat -c %h a.txt')],
        [writeFile('b.txt', 'written through b\n'), editFile('c.txt', 'original', 'edited')],
        [runCommand('cat a.txt b.txt c.txt; stat -c %h a.txt')],
      ],
    };
    const { id, status, events } = await h.vitals.during('hard links', () =>
      runAttack(h.url, attackerName, plan),
    );
    const [, , probe, write, edit, after] = outcomesOf(plan, events);
    const results = probeLines(probe!.output);
    expect(results).toHaveLength(4);
    for (const r of results) {
      expect(r.linked, JSON.stringify(r)).toBe(false);
      expect(['EXDEV', 'EPERM', 'EACCES'], JSON.stringify(r)).toContain(r.errno);
    }
    expect(probe!.output.trim().split('\n').at(-1)).toBe('3');
    expect(write!.ok).toBe(true);
    expect(edit!.ok).toBe(true);
    // Each write replaced its own name (a new inode); a.txt kept its bytes and lost its links.
    expect(after!.output).toBe('exit code 0\noriginal a\nwritten through b\nedited a\n1\n');
    await settledWorkspace(h.workspaceDir(id));
    const hostA = readFileSync(join(h.workspaceDir(id), 'a.txt'), 'utf8');
    expect(hostA).toBe('original a\n');
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  });
});
