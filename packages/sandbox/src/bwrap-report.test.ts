import { describe, expect, it } from 'vitest';
import { probeBwrapHost } from './bwrap-probe.ts';
import { bwrapReport } from './bwrap-report.ts';
import { detectCgroups } from './cgroup-detect.ts';
import { processDriver } from './process-driver.ts';
import { refuseIfStrict } from './strict-check.ts';
import { specFor } from './bwrap-test-support.ts';

/** The report's new rows, on this machine's real probe, and what strict makes of them. */
const host = probeBwrapHost('/usr/bin/bwrap', detectCgroups('longrun'));
const reasonOf = (report: ReturnType<typeof bwrapReport>, name: string): string | undefined =>
  report.protections.find((p) => p.name === name && p.enforced)?.reason;

describe('protections report', () => {
  it('names the allowed socket families and the writable places of the read-only root', () => {
    const report = bwrapReport(host);
    expect(reasonOf(report, 'socket-families')).toMatch(
      /AF_UNIX, AF_INET, AF_INET6, and AF_NETLINK with NETLINK_ROUTE.*EAFNOSUPPORT/,
    );
    expect(reasonOf(report, 'read-only-root')).toMatch(
      /writable are \/workspace, \/tmp and \/dev\/shm/,
    );
  });

  it('without the seccomp filter, socket-families is missing too, and strict refuses naming both', () => {
    const report = bwrapReport({ ...host, seccomp: null, seccompReason: 'refused in this test' });
    const missing = report.protections.filter((p) => !p.enforced).map((p) => p.name);
    expect(missing).toEqual(expect.arrayContaining(['seccomp', 'socket-families']));
    expect(() => refuseIfStrict(specFor('/nonexistent', { strict: true }), report)).toThrow(
      expect.objectContaining({
        code: 'SANDBOX_UNAVAILABLE',
        details: { missing: expect.arrayContaining(['seccomp', 'socket-families']) as unknown },
      }),
    );
  });

  it('the process driver enforces neither, and says why', async () => {
    const report = await processDriver().protections();
    const rows = report.protections.filter(
      (p) => p.name === 'socket-families' || p.name === 'read-only-root',
    );
    expect(rows.map((p) => [p.name, p.enforced])).toEqual([
      ['socket-families', false],
      ['read-only-root', false],
    ]);
    expect(rows.map((p) => p.reason).join(' ')).toMatch(/AF_VSOCK.*host's file system/);
  });
});
