import type { SandboxDriver } from '@longrun/core';
import { defaultSandboxDriver, needsDefaultSandbox, type AgentDefinition } from '@longrun/runtime';
import type { PreparableDriver, SandboxPoolStats } from '@longrun/sandbox';
import { UsageError, intFlag } from './args.ts';

/** The flags `run`, `worker` and `dev` take to choose where agents' commands run. */
export const sandboxFlags = {
  sandbox: { type: 'string' },
  'sandbox-pool': { type: 'string' },
  'sandbox-strict': { type: 'boolean' },
} as const;

export interface SandboxFlagValues {
  sandbox?: string | undefined;
  'sandbox-pool'?: string | undefined;
  'sandbox-strict'?: boolean | undefined;
}

export interface CliSandbox {
  /** The agents, those that run commands and declare no sandbox given the chosen one. */
  agents: AgentDefinition[];
  /** Pool figures for the API (`GET /v1/figures`), or null without a pool. */
  poolStats(): SandboxPoolStats | null;
  close(): Promise<void>;
}

/**
 * Where agents' commands run. By default bubblewrap, where it isolates on this machine; where
 * it does not, agents that run commands are refused (SANDBOX_UNAVAILABLE names what is missing
 * and how to opt out). `--sandbox process` opts into the plain process driver by name and says
 * on every start that commands are not isolated; `--sandbox bwrap` insists on bubblewrap.
 * `--sandbox-pool N` keeps N sandboxes warm and queues work at that ceiling; `--sandbox-strict`
 * also refuses to run a command when a resource limit is missing. One line on stderr says what
 * was chosen, whenever some agent runs commands.
 */
export async function sandboxFromFlags(
  values: SandboxFlagValues,
  agents: AgentDefinition[],
): Promise<CliSandbox> {
  const name = values.sandbox;
  if (name !== undefined && name !== 'process' && name !== 'bwrap') {
    throw new UsageError(`--sandbox must be process or bwrap (got ${JSON.stringify(name)})`);
  }
  const poolSize = intFlag(values['sandbox-pool'], 'sandbox-pool', 0, { max: 1_024 });
  const strict = values['sandbox-strict'] === true;
  const needing = agents.filter(needsDefaultSandbox);
  if (needing.length === 0 && name === undefined && poolSize === 0) {
    return { agents, poolStats: () => null, close: async () => undefined };
  }
  // Loaded only here: a worker whose agents run no commands never pays for the sandbox drivers.
  const { SandboxPool, processDriver } = await import('@longrun/sandbox');
  const base = name === 'process' ? processDriver() : await isolatingBwrap(name === 'bwrap');
  await announce(base, needing.length > 0);
  const pool = poolSize > 0 ? new SandboxPool({ driver: base, maxSandboxes: poolSize }) : null;
  const driver: SandboxDriver = pool?.asDriver() ?? base;
  return {
    agents: agents.map((agent) =>
      agent.sandbox === undefined ? { ...agent, sandbox: { driver, strict } } : agent,
    ),
    poolStats: () => pool?.stats() ?? null,
    close: async () => {
      await pool?.close();
    },
  };
}

/** bubblewrap if it isolates here; otherwise the default's refusal, naming what is missing. */
async function isolatingBwrap(named: boolean): Promise<PreparableDriver> {
  if (!named) return defaultSandboxDriver();
  const { bwrapDriver, isolationGaps } = await import('@longrun/sandbox');
  const bwrapPath = process.env.LONGRUN_BWRAP;
  const driver = await bwrapDriver(bwrapPath ? { bwrapPath } : {});
  const gaps = isolationGaps(await driver.protections());
  if (gaps.length === 0) return driver;
  // The same message as the default's, which says what is missing and how to opt out.
  return defaultSandboxDriver();
}

async function announce(driver: SandboxDriver, agentsRunCommands: boolean): Promise<void> {
  if (driver.kind === 'process') {
    const who = process.getuid?.() === 0 ? 'as a host uid of their own' : "as this process's user";
    process.stderr.write(
      `longrun: --sandbox process: agents' commands are NOT isolated: they run on this host ${who}, with its file system and network\n`,
    );
    return;
  }
  if (!agentsRunCommands) return;
  const { protections } = await driver.protections();
  const missing = protections.filter((p) => !p.enforced).map((p) => p.name);
  const enforced = protections.length - missing.length;
  process.stderr.write(
    `longrun: agents' commands run in ${driver.kind} sandboxes (${enforced}/${protections.length} protections enforced${missing.length === 0 ? '' : `; missing: ${missing.join(', ')} — see longrun doctor`})\n`,
  );
}
