/**
 * The two tiers of the Postgres fault suites: the PR tier fits CI (each file ≲ 2–3 min); the soak
 * tier (LONGRUN_SOAK=1) runs longer and bigger: faults for LONGRUN_SOAK_S seconds (default 600)
 * per suite. LONGRUN_SEED repeats a run (seeded-random.ts).
 */
export const soak = process.env.LONGRUN_SOAK === '1';

export function tier<T>(pr: T, soakValue: T): T {
  return soak ? soakValue : pr;
}

/** How long a suite injects faults, ms: `prMs` in the PR tier, LONGRUN_SOAK_S in the soak. */
export function faultPeriodMs(prMs: number): number {
  const soakS = Number(process.env.LONGRUN_SOAK_S ?? 600);
  return soak ? Math.max(1, soakS) * 1_000 : prMs;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 50 ms; false if it does not hold within `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}
