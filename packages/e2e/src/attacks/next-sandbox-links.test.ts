import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFile, runCommand, type AttackPlan } from './attack-plan.ts';
import {
  expectCompletedAndSeen,
  expectNowhereIn,
  expectRefused,
  outcomesOf,
} from './attack-assertions.ts';
import { attackHarness, expectWorkerHealthy } from './attack-harness.ts';
import { attackerName } from './attacker-agent.ts';
import { describeTree } from './host-tree.ts';
import { readEvents, sendMessage, startAttack, waitForEnd } from './session-api.ts';

// Links outlive the sandbox that made them: they are copied back into the workspace when a run
// ends, kept in its snapshots, and copied into the next sandbox of the session when it runs again
// (a new message, an approval, another worker). The root code that prepares that next sandbox
// must not follow them either. Every link here points into this test's own directory.

const h = attackHarness('next-sandbox-links');

describe('links left for the next sandbox of the session', () => {
  it('preparing the next sandbox re-owns, reads and writes nothing they point to', async () => {
    const victim = join(h.hostDir, `victim-${h.token(8)}`);
    const secret = `host-secret-${h.token()}`;
    mkdirSync(join(victim, 'nested'), { recursive: true });
    writeFileSync(join(victim, 'secret.txt'), `${secret}\n`);
    writeFileSync(join(victim, 'nested', 'config'), 'root only\n');
    chmodSync(join(victim, 'secret.txt'), 0o600);
    const before = describeTree(victim);
    const plan: AttackPlan = {
      turns: [
        [
          runCommand(
            `ln -s ${victim} vd && ln -s ${victim}/secret.txt vf && mkdir sub && ln -s ${victim}/nested sub/deeper`,
          ),
        ],
        // No call: the run ends, the sandbox closes and its files are copied back.
        [],
        // After the next message: a new run, a new sandbox prepared from the workspace.
        [runCommand('ls -ln vd/ sub/deeper/ 2>&1; id -u'), readFile('vf')],
      ],
    };
    const figures = await h.vitals.during('links for the next sandbox', async () => {
      const id = await startAttack(h.url, attackerName, plan);
      const first = await waitForEnd(h.url, id, 60_000);
      if (first === 'timeout') throw new Error(`the first run of ${id} did not end`);
      await sendMessage(h.url, id, 'carry on with the plan');
      const second = await waitForEnd(h.url, id, 60_000, first.headSeq);
      if (second === 'timeout') throw new Error(`the second run of ${id} did not end`);
      return { status: second.status, events: await readEvents(h.url, id) };
    });
    const { status, events } = figures;
    const [plant, relist, read] = outcomesOf(plan, events);
    expect(plant?.output).toBe('exit code 0\n');
    console.log(`[next-sandbox-links] second sandbox saw: ${JSON.stringify(relist?.output)}`);
    expectRefused(read!, 'FILE_TYPE_REFUSED');
    expectNowhereIn(events, secret);
    expect(describeTree(victim), 'the host tree the links point to').toEqual(before);
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  });
});
