import { LongrunError } from '@longrun/core';
import type { PreparableDriver } from '@longrun/sandbox';
import type { AgentDefinition } from './define-agent.ts';

let sandboxLib: Promise<typeof import('@longrun/sandbox')> | undefined;
/** Loaded on first use: a worker whose agents run no commands never pays for it. */
export const loadSandboxLib = () => (sandboxLib ??= import('@longrun/sandbox'));

/** An agent that names no sandbox of its own but has a tool that runs commands. */
export function needsDefaultSandbox(agent: AgentDefinition): boolean {
  return agent.sandbox === undefined && agent.tools.some((tool) => tool.usesSandbox === true);
}

let cached: Promise<PreparableDriver> | undefined;

/**
 * The driver an agent gets when it names none (DESIGN §6: safe defaults): bubblewrap, where it
 * isolates on this machine. Where it does not, SANDBOX_UNAVAILABLE says what is missing and how
 * to opt into the plain process driver by name; nothing runs a command unisolated by default.
 * Probed once per process. LONGRUN_BWRAP names the bubblewrap binary (default /usr/bin/bwrap).
 */
export function defaultSandboxDriver(): Promise<PreparableDriver> {
  cached ??= (async () => {
    const lib = await loadSandboxLib();
    const bwrapPath = process.env.LONGRUN_BWRAP;
    const driver = await lib.bwrapDriver(bwrapPath ? { bwrapPath } : {});
    const gaps = lib.isolationGaps(await driver.protections());
    if (gaps.length > 0) {
      // Grouped by reason: a missing binary is one reason for every protection.
      const byReason = new Map<string, string[]>();
      for (const p of gaps) byReason.set(p.reason, [...(byReason.get(p.reason) ?? []), p.name]);
      const missing = [...byReason].map(([reason, names]) => `${names.join(', ')}: ${reason}`);
      throw new LongrunError(
        'SANDBOX_UNAVAILABLE',
        `agents that run commands need an isolating sandbox, and bubblewrap does not isolate on this machine (${missing.join('; ')}). \`longrun doctor\` shows the whole report. To run commands without isolation anyway, opt in by name: --sandbox process on the command line, or sandbox: { driver: processDriver() } on the agent`,
      );
    }
    return driver;
  })();
  return cached;
}
