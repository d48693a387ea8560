import { LongrunError, type ProtectionReport, type SandboxSpec } from '@longrun/core';

/**
 * `strict: true` makes `open` refuse unless every protection is enforced; 'network-off' is not
 * required of a spec that allows the network.
 */
export function refuseIfStrict(spec: SandboxSpec, report: ProtectionReport): void {
  if (spec.strict !== true) return;
  const missing = report.protections.filter(
    (p) => !p.enforced && !(p.name === 'network-off' && spec.network === 'allowed'),
  );
  if (missing.length === 0) return;
  throw new LongrunError(
    'SANDBOX_UNAVAILABLE',
    `the ${report.driver} driver cannot enforce ${missing.map((p) => `${p.name} (${p.reason})`).join('; ')}; run \`longrun doctor\`, or open without strict`,
    { details: { missing: missing.map((p) => p.name) } },
  );
}
