export { processDriver } from './process-driver.ts';
export { bwrapDriver, type BwrapDriver, type BwrapDriverOptions } from './bwrap-driver.ts';
export type { PreparableDriver, PreparedSandbox } from './prepared-sandbox.ts';
export { SandboxPool, type SandboxPoolOptions, type SandboxPoolStats } from './sandbox-pool.ts';
export { protectionsReport } from './protections-report.ts';
export { buildSeccompFilter, seccompArchitectures } from './seccomp-filter.ts';
export type { SweepResult } from './leftover-sweep.ts';
export { isolatingProtections, isolationGaps } from './isolation.ts';
