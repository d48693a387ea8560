import { afterEach, describe, expect, it, afterAll } from 'vitest';
import type { Sandbox } from '@longrun/core';
import { bwrapDriver } from './bwrap-driver.ts';
import { detectCgroups } from './cgroup-detect.ts';
import { newWorkspace, sh, specFor, removeWorkspaces } from './bwrap-test-support.ts';
import { pollUntil } from './poll.ts';
import type { PreparableDriver } from './prepared-sandbox.ts';
import { processDriver } from './process-driver.ts';
import { SandboxPool } from './sandbox-pool.ts';

afterAll(removeWorkspaces);

let pool: SandboxPool | undefined;
afterEach(async () => {
  await pool?.close();
  pool = undefined;
});

const spec = (): ReturnType<typeof specFor> => specFor(newWorkspace('longrun-pool-'));

/** The real process driver, with a gate on `prepare` so a test decides when provisioning ends. */
function gatedDriver(): { driver: PreparableDriver; prepared: () => number; open: () => void } {
  const inner = processDriver();
  let prepared = 0;
  const gates: (() => void)[] = [];
  let opened = false;
  return {
    driver: {
      ...inner,
      prepare: async () => {
        if (!opened) await new Promise<void>((resolve) => gates.push(resolve));
        prepared += 1;
        return inner.prepare();
      },
    },
    prepared: () => prepared,
    open: () => {
      opened = true;
      for (const release of gates.splice(0)) release();
    },
  };
}

describe('sandbox pool', () => {
  it('fills to its warm size in the background and reports provisioning figures', async () => {
    pool = new SandboxPool({ driver: processDriver(), maxSandboxes: 3 });
    expect(await pollUntil(5_000, () => pool?.stats().ready === 3)).toBe(true);
    const stats = pool.stats();
    expect(stats).toMatchObject({ size: 3, ready: 3, inUse: 0, queued: 0, provisioning: 0 });
    expect(stats.provisioningMsP50).toBeGreaterThanOrEqual(0);
    expect(stats.provisioningMsP99).toBeGreaterThanOrEqual(stats.provisioningMsP50);
  });

  it('at the ceiling, claims queue in FIFO order and are served as sandboxes are released', async () => {
    pool = new SandboxPool({ driver: processDriver(), maxSandboxes: 2 });
    const [a, b] = await Promise.all([pool.claim(spec()), pool.claim(spec())]);
    const served: string[] = [];
    const third = pool.claim(spec()).then((s) => (served.push('third'), s));
    const fourth = pool.claim(spec()).then((s) => (served.push('fourth'), s));
    expect(await pollUntil(2_000, () => pool?.stats().queued === 2)).toBe(true);
    expect(pool.stats()).toMatchObject({ inUse: 2, ready: 0, queued: 2 });
    await a?.close();
    const c = await third;
    expect(served).toEqual(['third']);
    await b?.close();
    const d = await fourth;
    expect(served).toEqual(['third', 'fourth']);
    expect(pool.stats()).toMatchObject({ inUse: 2, queued: 0 });
    await Promise.all([c.close(), d.close()]);
  });

  it('a claim that waits too long fails with SANDBOX_BUSY and leaves the queue', async () => {
    pool = new SandboxPool({ driver: processDriver(), maxSandboxes: 1 });
    const held = await pool.claim(spec());
    const startedMs = performance.now();
    await expect(pool.claim(spec(), { timeoutMs: 200 })).rejects.toMatchObject({
      code: 'SANDBOX_BUSY',
      retryable: true,
    });
    expect(performance.now() - startedMs).toBeGreaterThanOrEqual(190);
    expect(pool.stats().queued).toBe(0);
    const controller = new AbortController();
    const aborted = pool.claim(spec(), { signal: controller.signal });
    controller.abort(new Error('caller gave up'));
    await expect(aborted).rejects.toThrow('caller gave up');
    expect(pool.stats().queued).toBe(0);
    await held.close();
  });

  it('destroys released sandboxes (never reused) and refills; a bad spec frees its place', async () => {
    const gated = gatedDriver();
    pool = new SandboxPool({ driver: gated.driver, maxSandboxes: 1 });
    const claim = pool.claim(spec());
    expect(pool.stats()).toMatchObject({ provisioning: 1, queued: 1 });
    gated.open();
    const first = await claim;
    await first.close();
    await expect(sh(first, 'true')).rejects.toMatchObject({ code: 'INVALID_STATE' });
    expect(await pollUntil(2_000, () => pool?.stats().ready === 1)).toBe(true);
    expect(gated.prepared()).toBe(2);
    const second = await pool.claim(spec());
    expect(second.id).not.toBe(first.id);
    await second.close();
    await expect(pool.claim({ ...spec(), workspaceDir: '/nonexistent/dir' })).rejects.toMatchObject(
      {
        code: 'INVALID_ARGUMENT',
      },
    );
    expect(
      await pollUntil(2_000, () => pool?.stats().inUse === 0 && pool.stats().ready === 1),
    ).toBe(true);
  });

  it('with bubblewrap: a claimed sandbox runs, and its cgroup is gone once released', async () => {
    pool = new SandboxPool({ driver: await bwrapDriver(), maxSandboxes: 2 });
    const sandbox: Sandbox = await pool.claim(spec());
    expect((await sh(sandbox, 'echo pooled')).stdout).toBe('pooled\n');
    const cgroups = detectCgroups('longrun').system;
    expect(cgroups?.list()).toContain(sandbox.id);
    await sandbox.close();
    expect(cgroups?.list()).not.toContain(sandbox.id);
    expect(await pollUntil(5_000, () => pool?.stats().ready === 2)).toBe(true);
  });

  it('close rejects queued claims', async () => {
    pool = new SandboxPool({ driver: processDriver(), maxSandboxes: 1 });
    const held = await pool.claim(spec());
    const waiting = pool.claim(spec());
    await pool.close();
    await expect(waiting).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await expect(pool.claim(spec())).rejects.toMatchObject({ code: 'INVALID_STATE' });
    await held.close();
  });
});
