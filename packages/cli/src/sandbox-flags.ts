import type { SandboxDriver } from '@longrun/core';
import type { AgentDefinition } from '@longrun/runtime';
import { SandboxPool, bwrapDriver, processDriver, type SandboxPoolStats } from '@longrun/sandbox';
import { UsageError, intFlag } from './args.ts';

/** The flags `worker` and `dev` take to choose where agents' commands run. */
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
  /** Agents that declare no sandbox of their own get the one the flags chose. */
  apply(agents: AgentDefinition[]): AgentDefinition[];
  /** Pool figures for the API (`GET /v1/figures`), or null without a pool. */
  poolStats(): SandboxPoolStats | null;
  close(): Promise<void>;
}

/**
 * `--sandbox process|bwrap` picks the driver (default: agents keep their own, or plain
 * processes); `--sandbox-pool N` keeps N sandboxes warm and queues work at that ceiling;
 * `--sandbox-strict` refuses to run a command when the driver cannot enforce every protection.
 */
export async function sandboxFromFlags(values: SandboxFlagValues): Promise<CliSandbox> {
  const name = values.sandbox;
  if (name !== undefined && name !== 'process' && name !== 'bwrap') {
    throw new UsageError(`--sandbox must be process or bwrap (got ${JSON.stringify(name)})`);
  }
  const poolSize = intFlag(values['sandbox-pool'], 'sandbox-pool', 0);
  const strict = values['sandbox-strict'] === true;
  if (name === undefined && poolSize === 0 && !strict) {
    return { apply: (agents) => agents, poolStats: () => null, close: async () => undefined };
  }
  const base = name === 'bwrap' ? await bwrapDriver() : processDriver();
  const pool = poolSize > 0 ? new SandboxPool({ driver: base, maxSandboxes: poolSize }) : null;
  const driver: SandboxDriver = pool?.asDriver() ?? base;
  return {
    apply: (agents) =>
      agents.map((agent) =>
        agent.sandbox === undefined ? { ...agent, sandbox: { driver, strict } } : agent,
      ),
    poolStats: () => pool?.stats() ?? null,
    close: async () => {
      await pool?.close();
    },
  };
}
