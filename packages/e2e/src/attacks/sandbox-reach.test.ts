import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, runCommand, writeFile, type AttackPlan } from './attack-plan.ts';
import {
  expectCompletedAndSeen,
  expectNowhereIn,
  expectRefused,
  outcomesOf,
  probeLines,
} from './attack-assertions.ts';
import { attackHarness, expectWorkerHealthy } from './attack-harness.ts';
import { attackerName } from './attacker-agent.ts';
import { hostFamilyProbe, sandboxProbe, type ProbeResult } from './sandbox-probe.ts';
import { runAttack } from './session-api.ts';

// What a command in the default sandbox (bubblewrap; this worker runs as root) can see of the
// worker's environment and reach of the host: socket families the namespaces do not cover, the
// host's loopback and abstract unix sockets, the read-only root. A canary secret sits in the
// worker's environment; the worker-side tools are tried on /proc links as well.

let canary = '';
const h = attackHarness('sandbox-reach', {
  extraEnv: (token) => {
    canary = `sk-canary-${token(32)}`;
    console.log(`[sandbox-reach] canary OPENAI_API_KEY=${canary}`);
    return { OPENAI_API_KEY: canary };
  },
});

let abstractServer: Server | null = null;
const abstractName = `longrun-attack-${Math.random().toString(16).slice(2)}`;
beforeAll(async () => {
  const server = createServer((socket) => socket.end('reached the host\n'));
  await new Promise<void>((resolve) => server.listen({ path: `\0${abstractName}` }, resolve));
  abstractServer = server;
});
afterAll(() => abstractServer?.close());

describe("the default sandbox's view and reach", () => {
  it('sees none of the worker environment, opens no uncovered socket family, writes no root', async () => {
    const port = new URL(h.url).port;
    const plan: AttackPlan = {
      turns: [
        [writeFile('probe.py', sandboxProbe)],
        [
          runCommand(
            `python3 probe.py ${h.dev.pid} ${port} ${abstractName}; env; cat /proc/1/environ /proc/*/environ; ls /proc`,
          ),
        ],
        [
          runCommand(
            `ln -s /proc/self/environ self-env; ln -s /proc/${h.dev.pid}/environ worker-env`,
          ),
          readFile('self-env'),
          readFile('worker-env'),
          readFile('/proc/self/environ'),
          readFile(`../../../../../../proc/${h.dev.pid}/environ`),
        ],
      ],
    };
    const { status, events } = await h.vitals.during('environment, sockets, root', () =>
      runAttack(h.url, attackerName, plan, 30_000),
    );
    const outcomes = outcomesOf(plan, events);
    const results = probeLines(outcomes[1]!.output) as unknown as ProbeResult[];
    const byName = new Map(results.map((r) => [r.probe, r]));
    const probe = (name: string) => byName.get(name) ?? { probe: name, ok: false, errno: 'absent' };
    console.log(`[sandbox-reach] ${results.length} probes: ${summarize(results)}`);

    // The environment: only what the driver sets, nothing at pid 1, no host process visible.
    const names = probe('environ-names').detail as string[];
    expect(names.filter((n) => !['PATH', 'HOME', 'LANG', 'PWD', 'SHLVL', '_'].includes(n))).toEqual(
      [],
    );
    expect(probe('pid1-environ')).toMatchObject({ ok: true, detail: '' });
    expect((probe('pids').detail as number[]).every((pid) => pid < 100)).toBe(true);
    expect(probe('worker-environ')).toMatchObject({ ok: false, errno: 'ENOENT' });
    expect(probe('open-fds').detail).toEqual([0, 1, 2, 3]);

    // Socket families: every one outside the allow-list refused, including those this host's
    // kernel opens (for those, only the sandbox's filter can have said no).
    const families = results.filter((r) => /^family-|^netlink-proto-|^vsock/.test(r.probe));
    expect(families.length).toBeGreaterThan(100);
    for (const r of families) {
      expect(r, r.probe).toMatchObject({ ok: false, errno: 'EAFNOSUPPORT' });
    }
    const hostOpens = hostOpenedFamilies();
    console.log(`[sandbox-reach] the host opens ${JSON.stringify(hostOpens)}; the sandbox none`);
    // Netlink protocols are always in the kernel; AF_VSOCK where its module loads (here it does).
    expect(
      hostOpens.length,
      'tries the host opens (else the filter is not exercised)',
    ).toBeGreaterThan(0);
    if (!hostOpens.includes('family-40-type-1'))
      console.log('[sandbox-reach] AF_VSOCK: the host itself has none');
    expect(probe('netlink-route').ok).toBe(true);
    expect(probe('inet-raw')).toMatchObject({ ok: false });
    expect(probe('io-uring')).toMatchObject({ ok: false });

    // The host: its loopback and abstract sockets are another network namespace's.
    expect(probe('host-loopback')).toMatchObject({ ok: false, errno: 'ECONNREFUSED' });
    expect(probe('host-abstract-socket')).toMatchObject({ ok: false, errno: 'ECONNREFUSED' });

    // The root is read-only; /tmp and the workspace are writable (the probe itself works).
    for (const path of ['/x', '/etc/x', '/usr/x', '/usr/bin/x', '/lib/x', '/dev/x']) {
      expect(probe(`write-${path}`), path).toMatchObject({ ok: false, errno: 'EROFS' });
    }
    // An existing root-owned file: the permission check (EACCES) comes before the mount's.
    expect(['EROFS', 'EACCES']).toContain(probe('write-/etc/hosts').errno);
    expect(probe('mkdir-/newdir')).toMatchObject({ ok: false, errno: 'EROFS' });
    expect(probe('write-/tmp/x').ok).toBe(true);
    expect(probe('write-/workspace/x').ok).toBe(true);

    // The worker's own tools, pointed at /proc through links and paths.
    const [, , , selfEnv, workerEnv, absolute, dotted] = outcomes;
    expectRefused(selfEnv!, 'FILE_TYPE_REFUSED');
    expectRefused(workerEnv!, 'FILE_TYPE_REFUSED');
    expectRefused(absolute!, 'PATH_OUTSIDE_WORKSPACE');
    expectRefused(dotted!, 'PATH_OUTSIDE_WORKSPACE');

    expectNowhereIn(events, canary);
    expectCompletedAndSeen(status, events);
    expectWorkerHealthy(h.vitals.figures.at(-1)!);
  });
});

/** The socket tries that succeed on the host itself (as root, no filter). */
function hostOpenedFamilies(): string[] {
  const run = spawnSync('python3', ['-c', hostFamilyProbe], { encoding: 'utf8', timeout: 30_000 });
  expect(run.status, run.stderr).toBe(0);
  const tries = probeLines(run.stdout) as unknown as ProbeResult[];
  return tries.filter((r) => r.ok).map((r) => r.probe);
}

/** `errno×count` per outcome, for the log. */
function summarize(results: readonly ProbeResult[]): string {
  const counts = new Map<string, number>();
  for (const r of results) {
    const key = r.ok ? 'ok' : (r.errno ?? 'error');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${k}×${n}`).join(' ');
}
