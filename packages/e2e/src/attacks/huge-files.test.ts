import { describe, expect, it } from 'vitest';
import { editFile, listFiles, readFile, runCommand, type AttackPlan } from './attack-plan.ts';
import { expectCompletedAndSeen, expectRefused, outcomesOf } from './attack-assertions.ts';
import { attackHarness, bars, expectWorkerHealthy } from './attack-harness.ts';
import { attackerName } from './attacker-agent.ts';
import { readEvents, runAttack, startAttack, toolOutcomes, waitForEnd } from './session-api.ts';

// Files far larger than the worker's memory, made in a moment and at no cost in the capped
// workspace: sparse files (a tmpfs cap counts blocks written, not a file's length). The worker
// must refuse to read them whole, keep its memory and its health endpoint, and carry on.

const h = attackHarness('huge-files', { stopGraceMs: 5_000 });

const gib = 1024 ** 3;

describe('files larger than the worker can hold', () => {
  it('a 2 GiB sparse file: read and edit refused with FILE_TOO_LARGE, worker memory bounded', async () => {
    const plan: AttackPlan = {
      turns: [
        [runCommand('truncate -s 2G huge && ls -ls huge')],
        [readFile('huge'), editFile('huge', 'a', 'b'), listFiles('.')],
        [runCommand('echo still here')],
      ],
    };
    const startedMs = Date.now();
    const { status, events } = await h.vitals.during('2 GiB sparse file', async () => {
      const id = await startAttack(h.url, attackerName, plan);
      const end = await waitForEnd(h.url, id, 90_000);
      return {
        status: end === 'timeout' ? 'timeout' : end.status,
        events: await readEvents(h.url, id),
      };
    });
    const outcomes = outcomesOf(plan, events);
    const [made, read, edit, list, after] = outcomes;
    // Where the memory went: making the file (and the snapshot after it), then the refusals.
    console.log(
      `[huge-files] RSS growth: command + snapshot ${h.vitals.growthBetweenMiB(startedMs, made!.atMs)} MiB; read/edit/list ${h.vitals.growthBetweenMiB(made!.atMs, list!.atMs)} MiB; took ${made!.atMs - startedMs} ms and ${list!.atMs - made!.atMs} ms`,
    );
    expect(made!.output).toMatch(/^exit code 0\n0 -rw/);
    expectRefused(read!, 'FILE_TOO_LARGE');
    expectRefused(edit!, 'FILE_TOO_LARGE');
    expect(read!.output).toContain(`has ${2 * gib} bytes`);
    expect(list!.output).toBe('huge');
    expect(after!.output).toBe('exit code 0\nstill here\n');
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  }, 120_000);

  it('a 64 GiB sparse file, 16 times the workspace cap: the command still returns within 30 s', async () => {
    const plan: AttackPlan = {
      turns: [[runCommand('truncate -s 64G huge64 && echo made')], [readFile('huge64')]],
    };
    const limitMs = 30_000;
    const { end, events } = await h.vitals.during('64 GiB sparse file', async () => {
      const id = await startAttack(h.url, attackerName, plan);
      const end = await waitForEnd(h.url, id, limitMs);
      return { end, events: await readEvents(h.url, id) };
    });
    const results = toolOutcomes(events).map((o) => `${o.tool}:${o.errorCode ?? o.ok}`);
    console.log(`[huge-files] 64 GiB: ${JSON.stringify(results)} after ${limitMs} ms at most`);
    const figures = h.vitals.figures.at(-1)!;
    expect(figures.worstHealthMs).toBeLessThan(bars.worstHealthMs);
    // What the model must get in time: the command's result (and then the read's refusal).
    expect(results, 'tool results recorded within the limit').toEqual([
      'run_command:true',
      'read_file:FILE_TOO_LARGE',
    ]);
    expect(end === 'timeout' ? 'timeout' : end.status).toBe('completed');
    expectWorkerHealthy(figures);
  }, 60_000);

  it('sparse files just under the cap, four at once: the snapshot reads only the real files', async () => {
    // Each 4090M file is under the 4 GiB cap, and together they are 16 GiB the sandbox never paid
    // for; a snapshot that took them would read all of it in the worker. The real file (which
    // the sandbox does pay for) leaves room for none of them under the cap.
    const mib = 1024 ** 2;
    const plan: AttackPlan = {
      turns: [
        [
          runCommand(
            'head -c 8M /dev/urandom > real.bin && for i in 1 2 3 4; do truncate -s 4090M f$i; done && echo made',
          ),
        ],
        [readFile('f1'), runCommand('echo still here')],
      ],
    };
    const limitMs = 30_000;
    const { end, events } = await h.vitals.during('sparse files under the cap', async () => {
      const id = await startAttack(h.url, attackerName, plan);
      const end = await waitForEnd(h.url, id, limitMs);
      return { end, events: await readEvents(h.url, id) };
    });
    const results = toolOutcomes(events).map((o) => `${o.tool}:${o.errorCode ?? o.ok}`);
    const [snapshot, ...more] = events.filter(
      (e) => e.type === 'workspace.snapshotted' && e.data.step === 1,
    );
    const skipped = (snapshot?.data.skipped ?? []) as { path: string; reason: string }[];
    console.log(
      `[huge-files] sparse under the cap: ${JSON.stringify(results)}; snapshot of ${JSON.stringify(snapshot?.data.bytes)} bytes, left out ${JSON.stringify(skipped.map((s) => s.path))}`,
    );
    expect(more).toEqual([]);
    expect(snapshot?.data.bytes, 'bytes taken: the real file only').toBe(8 * mib);
    expect(skipped.map((s) => s.path)).toEqual(['f1', 'f2', 'f3', 'f4']);
    for (const { reason } of skipped) expect(reason).toContain('of its bytes are not on disk');
    expect(results, 'tool results recorded within the limit').toEqual([
      'run_command:true',
      'read_file:FILE_TOO_LARGE',
      'run_command:true',
    ]);
    expect(end === 'timeout' ? 'timeout' : end.status).toBe('completed');
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  }, 60_000);

  /**
   * Makes 400 MiB of dense data with `command` and checks it is snapshotted whole with the
   * worker's memory and health within the bars.
   */
  async function snapshotsDenseFile(label: string, command: string): Promise<void> {
    const plan: AttackPlan = {
      turns: [[runCommand(`${command} && echo made`)], [runCommand('echo still here')]],
    };
    const { status, events } = await h.vitals.during(label, () =>
      runAttack(h.url, attackerName, plan, 120_000),
    );
    const snapshot = events.find((e) => e.type === 'workspace.snapshotted' && e.data.step === 1);
    const figures = h.vitals.figures.at(-1)!;
    console.log(
      `[huge-files] ${label}: snapshot of ${JSON.stringify(snapshot?.data.bytes)} bytes; worker RSS +${figures.rssGrowthMiB} MiB, worst health ${figures.worstHealthMs} ms`,
    );
    expect(status).toBe('completed');
    expect(snapshot?.data.bytes, 'the whole file snapshotted').toBe(400 * 1024 ** 2);
    expectWorkerHealthy(figures);
  }

  it('400 MiB of random bytes, which no compression shrinks: snapshotted whole, worker memory bounded', async () => {
    // Dense data is what the worker must really read, hash and store: every chunk goes through
    // the store's writer thread. Before its bytes were freed once written, each isolate let up to
    // 64 MiB of written chunks wait for a collection (+106-134 MiB here); before blobs were told
    // incompressible without deflating a sample, each sample's output did (+31-99 MiB).
    await snapshotsDenseFile('random bytes', 'head -c 400M /dev/urandom > dense.bin');
  }, 150_000);

  it('400 MiB of base64 text, which deflate shrinks by a quarter: packed, worker memory bounded', async () => {
    // Every chunk is deflated before it is stored: the deflate's output, and the chunk once its
    // packed bytes are written, are freed at once, not left for a collection (+53-100 MiB).
    await snapshotsDenseFile('base64 text', 'head -c 300M /dev/urandom | base64 -w 0 > text.b64');
  }, 150_000);

  it('each command that leaves a file out of the snapshot gets a record saying so', async () => {
    // Step 1 leaves huge-a out of an otherwise empty workspace; step 2 changes another file;
    // step 3 leaves huge-b out of a workspace whose snapshot does not otherwise change.
    const plan: AttackPlan = {
      turns: [
        [runCommand('truncate -s 64G huge-a')],
        [runCommand('echo kept > kept.txt')],
        [runCommand('truncate -s 64G huge-b')],
      ],
    };
    const { status, events } = await h.vitals.during('files left out of snapshots', () =>
      runAttack(h.url, attackerName, plan, 30_000),
    );
    expect(status).toBe('completed');
    const skippedAt = (step: number) =>
      events
        .filter((e) => e.type === 'workspace.snapshotted' && e.data.step === step)
        .flatMap((e) => (e.data.skipped ?? []) as { path: string; reason: string }[])
        .map((s) => s.path);
    console.log(`[huge-files] left out, by step: ${JSON.stringify([1, 2, 3].map(skippedAt))}`);
    expect(skippedAt(1), 'step 1').toContain('huge-a');
    expect(skippedAt(3), 'step 3').toContain('huge-b');
  }, 60_000);
});
