import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { isLongrunError } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { defineAgent, type AgentConfig } from '../agent/define-agent.ts';
import { tempDir } from '../testing.ts';
import { Worker, type WorkerOptions } from '../worker.ts';

const agent = (name: string, fields: Partial<AgentConfig> = {}) =>
  defineAgent({ name, instructions: 'i', model: scriptedModel(() => ({ text: name })), ...fields });

/** The message of the INVALID_ARGUMENT `new Worker(options)` throws; anything else fails. */
function refusal(options: Partial<WorkerOptions>): string {
  try {
    new Worker({ store: {} as never, ...options } as WorkerOptions);
  } catch (error) {
    if (isLongrunError(error, 'INVALID_ARGUMENT')) return error.message;
    throw error;
  }
  throw new Error('expected an INVALID_ARGUMENT');
}

/** The warnings a worker with `agents` logs when it starts on a fresh SQLite store. */
async function startWarnings(agents: WorkerOptions['agents']): Promise<string[]> {
  const store = await SqliteStore.open({ path: join(tempDir('worker-agents'), 'db.sqlite') });
  const worker = new Worker({ store, agents, pollMs: 5, schedules: false });
  const warnings: string[] = [];
  worker.on('log', (e) => {
    if (e.level === 'warn') warnings.push(e.msg);
  });
  try {
    await worker.start();
  } finally {
    await worker.stop();
    await store.close();
  }
  return warnings;
}

describe("a worker's agents", () => {
  it('refuses two agents of one name, naming it (only one of them could ever run)', () => {
    expect(refusal({ agents: [agent('same'), agent('same')] })).toBe(
      'the worker is given two agents named "same"; a session names the agent that runs it, so agent names must be unique within a worker',
    );
  });

  it('refuses no agents option at all, and an entry that is no defined agent', () => {
    expect(refusal({})).toMatch(
      /^a worker needs its agents: new Worker\(\{ store, agents: \[myAgent\] \}\)/,
    );
    expect(refusal({ agents: [{ name: 'raw' } as never] })).toBe(
      'agents[0] of the worker is not an agent; make it with defineAgent({ ... })',
    );
  });

  it('takes an empty list, and says at start that it will claim nothing', async () => {
    expect(await startWarnings([])).toEqual([
      'this worker has no agents, so it runs no session: give it the agents to run (new Worker({ agents: [...] }), or longrun worker --agents <module>)',
    ]);
    expect(await startWarnings([agent('solo')])).toEqual([]);
  });

  it('says at start which sub-agents it does not run (another worker may: not an error)', async () => {
    const lead = agent('lead', { subAgents: { agents: ['reviewer', 'nobody'] } });
    expect(await startWarnings([lead, agent('reviewer')])).toEqual([
      'sub-agents this worker does not run (lead → nobody): their sessions wait for a worker that has those agents registered',
    ]);
  });
});
