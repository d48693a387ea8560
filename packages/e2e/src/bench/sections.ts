/** A bench section that could not run here, and why (a missing tool, an unreachable server). */
export interface Skipped {
  skipped: string;
}

/**
 * Runs one section of the bench. One that throws is reported as `{ skipped: <reason> }` (and said
 * on stderr) instead of ending the bench: every other section still runs and prints its figures.
 */
export async function section<T>(
  name: string,
  measure: () => Promise<T> | T,
  log: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
): Promise<T | Skipped> {
  try {
    return await measure();
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    log(`[bench] ${name}: could not run (${reason}); reported as skipped`);
    return { skipped: reason };
  }
}
