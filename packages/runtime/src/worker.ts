import {
  LongrunError,
  isLongrunError,
  newWorkerId,
  type Lease,
  type ModelClient,
  type SessionStore,
  type WorkerId,
  type WorkerRegistration,
} from '@longrun/core';
import { backoffMs, pause } from './backoff.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import type { StepProgram } from './program.ts';
import { SessionRunner, type RunOutcome } from './session-runner.ts';
import type { AgentDefinition } from './agent/define-agent.ts';
import type { AgentHooks } from './agent/agent-context.ts';
import { AgentRunner } from './agent/agent-runner.ts';
import { WorkspaceTracker } from './agent/agent-workspace.ts';

export interface WorkerLog {
  (entry: {
    level: 'info' | 'warn' | 'error';
    msg: string;
    sessionId?: string;
    seq?: number;
    [k: string]: unknown;
  }): void;
}

export interface WorkerOptions {
  store: SessionStore;
  /** Scripted step programs (the durable core's sample workloads). */
  programs?: readonly StepProgram[];
  /** Agents run by the harness: model, instructions, tools. */
  agents?: readonly AgentDefinition[];
  /** Stable across restarts of the same process slot, so a restarted worker reclaims its sessions. */
  workerId?: WorkerId;
  leaseMs?: number;
  /** How often an idle worker looks for claimable sessions, milliseconds. */
  pollMs?: number;
  /** Sessions run at once by this worker. */
  concurrency?: number;
  checkpointEvery?: number;
  hooks?: AgentHooks & {
    onSessionEnded?(sessionId: string, outcome: RunOutcome | 'error', error?: unknown): void;
  };
  log?: WorkerLog;
}

/**
 * Claims runnable sessions and runs each under a kept lease. It holds nothing a restart would
 * need: a session it was running is resumed by whoever claims it next, from the log.
 */
export class Worker {
  readonly id: WorkerId;
  /** Stat caches and known snapshots of the workspaces this worker holds. */
  readonly #workspaces = new WorkspaceTracker();
  readonly #o: Required<Pick<WorkerOptions, 'leaseMs' | 'pollMs' | 'concurrency'>> & WorkerOptions;
  readonly #programs: Map<string, StepProgram>;
  readonly #agents: Map<string, AgentDefinition>;
  readonly #models = new Map<string, ModelClient>();
  readonly #running = new Map<string, { keeper: LeaseKeeper; done: Promise<void> }>();
  readonly #stop = new AbortController();
  #wake: (() => void) | null = null;
  #registration: WorkerRegistration | null = null;
  #loop: Promise<void> | null = null;

  constructor(options: WorkerOptions) {
    this.#o = { leaseMs: 15_000, pollMs: 100, concurrency: 32, ...options };
    this.id = options.workerId ?? newWorkerId();
    this.#programs = new Map((options.programs ?? []).map((p) => [p.name, p]));
    this.#agents = new Map((options.agents ?? []).map((a) => [a.name, a]));
  }

  get activeSessions(): number {
    return this.#running.size;
  }

  /** Registers, reclaims this worker's own unfinished sessions, then claims until stopped. */
  async start(): Promise<void> {
    const { store } = this.#o;
    this.#registration = await store.registerWorker(this.id, (error) =>
      this.#log('error', `worker registration lost: ${error.message}; stopping all sessions`),
    );
    for (const lease of await store.reclaimOwned(this.id, this.#o.leaseMs)) this.#runSession(lease);
    this.#loop = this.#claimLoop();
  }

  /** Claims sooner than the next poll (e.g. right after a session was created in this process). */
  wake(): void {
    this.#wake?.();
  }

  /** Stops claiming, stops every session at its next boundary and hands the leases back. */
  async stop(): Promise<void> {
    this.#stop.abort();
    this.wake();
    await this.#loop;
    await Promise.all([...this.#running.values()].map((r) => r.done));
    await this.#registration?.close();
  }

  async #claimLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      let claimed = false;
      if (this.#running.size < this.#o.concurrency) {
        try {
          const lease = await this.#o.store.claimNext(this.id, this.#o.leaseMs);
          failures = 0;
          if (lease !== null) {
            claimed = true;
            this.#runSession(lease);
          }
        } catch (error) {
          failures++;
          this.#log('warn', `claim failed (${(error as Error).message}); retrying`);
          await pause(backoffMs(failures, 100, 5_000), this.#stop.signal);
          continue;
        }
      }
      if (!claimed) await this.#idle();
    }
  }

  #idle(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, this.#o.pollMs);
      const wake = (): void => done();
      this.#wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  #runSession(lease: Lease): void {
    const keeper = new LeaseKeeper({
      store: this.#o.store,
      lease,
      leaseMs: this.#o.leaseMs,
      onLost: (reason) => this.#log('warn', `stopping session: ${reason}`, lease.sessionId),
    });
    const done = this.#drive(lease, keeper).finally(() => {
      this.#running.delete(lease.sessionId);
      this.wake();
    });
    this.#running.set(lease.sessionId, { keeper, done });
  }

  async #drive(lease: Lease, keeper: LeaseKeeper): Promise<void> {
    const { store, hooks } = this.#o;
    const stopOrLost = AbortSignal.any([keeper.signal, this.#stop.signal]);
    keeper.start();
    try {
      const session = await store.getSession(lease.sessionId);
      const outcome = await this.#runnerFor(session.agent, lease, stopOrLost).run();
      await keeper.stop();
      if (outcome === 'stopped' || outcome === 'completed')
        await store.releaseLease(keeper.lease).catch(() => undefined);
      hooks?.onSessionEnded?.(lease.sessionId, outcome);
    } catch (error) {
      await keeper.stop();
      if (isLongrunError(error, 'LEASE_LOST')) {
        this.#log('warn', `fenced: ${error.message}`, lease.sessionId);
        hooks?.onSessionEnded?.(lease.sessionId, 'stopped');
        return;
      }
      const reason = `stopped by an error: ${(error as Error).message}`;
      this.#log('error', reason, lease.sessionId);
      await this.#pause(keeper.lease, reason).catch(() =>
        store.releaseLease(keeper.lease).catch(() => undefined),
      );
      hooks?.onSessionEnded?.(lease.sessionId, 'error', error);
    }
  }

  #runnerFor(name: string, lease: Lease, signal: AbortSignal): { run(): Promise<RunOutcome> } {
    const { store, hooks, checkpointEvery } = this.#o;
    const common = {
      store,
      lease,
      signal,
      ...(hooks ? { hooks } : {}),
      ...(checkpointEvery ? { checkpointEvery } : {}),
    };
    const program = this.#programs.get(name);
    if (program !== undefined) return new SessionRunner({ ...common, program });
    const agent = this.#agents.get(name);
    if (agent !== undefined) {
      let model = this.#models.get(name);
      if (model === undefined) {
        model = typeof agent.model === 'function' ? agent.model() : agent.model;
        this.#models.set(name, model);
      }
      return new AgentRunner({ ...common, agent, model, workspaces: this.#workspaces });
    }
    throw new LongrunError(
      'INVALID_STATE',
      `no agent named ${JSON.stringify(name)} is registered with this worker`,
    );
  }

  /**
   * Parks a session that cannot make progress here as `paused`, with the reason, instead of
   * handing it straight back to the claim queue where it would fail again at once.
   */
  async #pause(lease: Lease, reason: string): Promise<void> {
    const { headSeq } = await this.#o.store.getSession(lease.sessionId);
    await this.#o.store.append({
      fence: lease,
      expectedSeq: headSeq,
      events: [],
      status: { status: 'paused', reason },
      releaseLease: true,
    });
  }

  #log(level: 'info' | 'warn' | 'error', msg: string, sessionId?: string): void {
    this.#o.log?.({
      level,
      msg,
      workerId: this.id,
      ...(sessionId === undefined ? {} : { sessionId }),
    });
  }
}
