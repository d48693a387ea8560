import { performance } from 'node:perf_hooks';
import { saveCompileCache } from './worker/compile-cache.ts';
import {
  LongrunError,
  checkBudget,
  checkPolicy,
  dailyBudgetProblem,
  isLongrunError,
  isRetryable,
  newWorkerId,
  type ClaimFilter,
  type Lease,
  type ModelClient,
  type Budget,
  type DailyBudget,
  type SecretStore,
  type Policy,
  type SessionId,
  type SessionStore,
  type WorkerId,
  type WorkerRegistration,
} from '@longrun/core';
import { backoffMs, pause } from './backoff.ts';
import { LeaseKeeper } from './lease-keeper.ts';
import type { RunOutcome } from './run-outcome.ts';
import type { AgentDefinition } from './agent/define-agent.ts';
import {
  WorkerEvents,
  type WorkerEventMap,
  type WorkerEventName,
  type WorkerListener,
} from './worker/worker-events.ts';
import { AgentRunner } from './agent/agent-runner.ts';
import { WorkspaceTracker } from './agent/agent-workspace.ts';
import { defaultSandboxDriver, needsDefaultSandbox } from './agent/default-sandbox.ts';
import { ScheduleTicker, type ScheduleTickerOptions } from './schedules/schedule-ticker.ts';
import { TimerWakes } from './worker/timer-wakes.ts';
import { aheadWindowFor } from './session-writer.ts';
import { agentsByName, noAgentsWarning, subAgentsRunElsewhere } from './worker/worker-agents.ts';
import { removeFinishedWorkspaces, workspaceRoots } from './worker/finished-workspaces.ts';
import { tellParent } from './agent/tell-ancestors.ts';
import { FullDiskResumer, fullDiskReason } from './worker/full-disk.ts';

export interface WorkerOptions {
  store: SessionStore;
  /**
   * The agents this worker runs (made by `defineAgent`), names unique: it claims only sessions
   * of these agents (with none it claims nothing, and logs a warning at start).
   */
  agents: readonly AgentDefinition[];
  /** Stable across restarts of the same process slot, so a restarted worker reclaims its sessions. */
  workerId?: WorkerId;
  leaseMs?: number;
  /** How often an idle worker looks for claimable sessions, milliseconds. */
  pollMs?: number;
  /** Sessions run at once by this worker. */
  concurrency?: number;
  checkpointEvery?: number;
  /**
   * Workspace directories no session runs in whose stat cache and last snapshot the worker keeps
   * (default 32, see WorkspaceTracker); a session that comes back to one forgotten is restored
   * from its snapshot, as on a new worker.
   */
  idleWorkspaceDirs?: number;
  /**
   * Remove a session's local workspace directory once its run ends completed, failed or
   * cancelled (default false: the directory stays where the agent left it). The snapshots stay in
   * the blob store: a follow-up message restores the directory from the last one. A worker that
   * runs sessions for weeks keeps its disk to the sessions it runs.
   */
  removeFinishedWorkspaces?: boolean;
  /**
   * Fire the due ticks of schedules of this worker's agents (a ScheduleTicker; on by default).
   * `false`: this worker fires none (another process does).
   */
  schedules?: false | WorkerScheduleOptions;
  /**
   * The policy of each tenant (by tenant id, or a function of it), an upper bound on every
   * agent's own (DESIGN §7): a session runs under both, and the most restrictive answer wins.
   * A tenant without one is bounded by its agents' policies only.
   */
  tenantPolicies?: Readonly<Record<string, Policy>> | ((tenantId: string) => Policy | undefined);
  /**
   * The cap on every session budget of each tenant, by tenant id (DESIGN §7): a session's budget
   * (its own, its agent's, and every raise) is recorded bounded by it, limit by limit, and a
   * session without a budget gets the cap as its budget. See docs/budgets.md.
   */
  tenantBudgets?: Readonly<Record<string, Budget>>;
  /**
   * What each tenant (by tenant id) may spend per UTC day across all its sessions, on every
   * worker (DESIGN §7): each model call's projection is charged to the tenant's day in the store
   * before the call is sent, atomically, and must fit; a call that does not pauses its session
   * with BUDGET_EXCEEDED until the next day or a higher limit (then resume it). See
   * docs/budgets.md.
   */
  tenantDailyBudgets?: Readonly<Record<string, DailyBudget>>;
  /**
   * Where tools' `context.secret(name)` reads credentials (DESIGN §7): e.g. `envSecrets()`. A
   * session gets a secret only when its policy's `secrets` scopes allow it (every layer), and the
   * value is removed from the call's output before anything is recorded. See docs/policy.md.
   */
  secrets?: SecretStore;
}

/** How a worker's schedule ticker runs; see ScheduleTickerOptions. */
export type WorkerScheduleOptions = Pick<ScheduleTickerOptions, 'nowMs' | 'pollMs' | 'lateAfterMs'>;

interface Running {
  keeper: LeaseKeeper;
  /** Aborted to stop this session's side effects from outside (doubt, a re-claim). */
  fence: AbortController;
  /** ToolContext.holding of this session's run. */
  holding: () => boolean;
  done: Promise<void>;
}

/** How often the worker compares its sessions' deadlines with its clock (see #checkHolding). */
const watchEveryMs = 50;

/**
 * Claims runnable sessions and runs each under a kept lease. It holds nothing a restart would
 * need: a session it was running is resumed by whoever claims it next, from the log.
 *
 * One holder, always (DESIGN §3): the worker stops a session's side effects when its lease
 * keeper gives the lease up, and all of them when the store reports its liveness in doubt; it
 * claims nothing while in doubt, and reclaims what it still owns once liveness is confirmed.
 * A session is parked (`paused`) only for a reason a person can act on; a transient failure
 * (the store unreachable, a lost acknowledgement) is retried under the same lease, or the
 * session is left for the next claim.
 */
export class Worker {
  readonly id: WorkerId;
  /** Stat caches and known snapshots of the workspaces this worker holds. */
  readonly #workspaces: WorkspaceTracker;
  readonly #o: Required<Pick<WorkerOptions, 'leaseMs' | 'pollMs' | 'concurrency'>> & WorkerOptions;
  readonly #agents: Map<string, AgentDefinition>;
  readonly #models = new Map<string, ModelClient>();
  readonly #running = new Map<string, Running>();
  readonly #stop = new AbortController();
  readonly #events = new WorkerEvents();
  #wake: (() => void) | null = null;
  /** A wake() that found no idle wait to end (a claim was in flight): the next idle ends at once. */
  #wakeMissed = false;
  #registration: WorkerRegistration | null = null;
  #loop: Promise<void> | null = null;
  /** The store vouches for this worker (false from a doubt until the next confirmation). */
  #live = true;
  /** A doubt stopped sessions this worker may still own; reclaim them once live again. */
  #mustReclaim = false;
  #recovering: Promise<void> | null = null;
  #watch: NodeJS.Timeout | undefined;
  #ticker: ScheduleTicker | null = null;
  /** Resumes the sessions a full disk paused once it has room (worker/full-disk.ts). */
  #fullDisk: FullDiskResumer | null = null;
  /** The timers of the waits this worker committed: an idle worker looks again when one is due. */
  readonly #timerWakes = new TimerWakes();
  /** The store's clock minus this process's, measured at start (timers are by the store's). */
  #storeClockOffsetMs = 0;
  readonly #tenantPolicy: ((tenantId: string) => Policy | undefined) | undefined;
  readonly #tenantBudgets: Map<string, Budget>;
  readonly #tenantDailyBudgets: Map<string, DailyBudget>;

  constructor(options: WorkerOptions) {
    this.#o = { leaseMs: 15_000, pollMs: 100, concurrency: 32, ...options };
    this.id = options.workerId ?? newWorkerId();
    this.#workspaces = new WorkspaceTracker(
      options.idleWorkspaceDirs === undefined ? {} : { maxIdleDirs: options.idleWorkspaceDirs },
    );
    this.#agents = agentsByName(options.agents);
    this.#tenantPolicy = tenantPolicyOf(options.tenantPolicies);
    this.#tenantBudgets = new Map(
      Object.entries(options.tenantBudgets ?? {}).map(([tenantId, cap]) => [
        tenantId,
        checkBudget(cap, `the budget cap of tenant ${tenantId}`),
      ]),
    );
    this.#tenantDailyBudgets = new Map(
      Object.entries(options.tenantDailyBudgets ?? {}).map(([tenantId, limits]) => {
        const problem = dailyBudgetProblem(limits);
        if (problem !== null)
          throw new LongrunError('INVALID_ARGUMENT', `tenant ${tenantId}: ${problem}`);
        return [tenantId, { ...limits }];
      }),
    );
    this.#events.on('events.committed', ({ events }) => {
      for (const e of events)
        if (e.type === 'wait.started' && e.data.untilMs !== undefined)
          this.#timerWakes.add(e.data.untilMs);
    });
  }

  /**
   * Subscribes to one of the worker's events (see WorkerEventMap); returns the function that
   * unsubscribes. Subscribe before `start()`: reclaimed sessions run at once.
   */
  on<K extends WorkerEventName>(name: K, listener: WorkerListener<K>): () => void {
    return this.#events.on(name, listener);
  }

  off<K extends WorkerEventName>(name: K, listener: WorkerListener<K>): void {
    this.#events.off(name, listener);
  }

  get activeSessions(): number {
    return this.#running.size;
  }

  /**
   * Registers (waiting out a store outage, with a log line per attempt), reclaims this worker's
   * own unfinished sessions, then claims until stopped.
   */
  /** The finished sessions' workspaces a dead worker left; in the background, as the worker runs. */
  async #sweepFinishedWorkspaces(): Promise<void> {
    const warn = (msg: string): void => this.#log('warn', msg);
    const removed = await removeFinishedWorkspaces(
      this.#o.store,
      workspaceRoots(this.#agents.values()),
      (id) => this.#running.has(id),
      warn,
    ).catch((error: unknown) => {
      warn(`could not look for finished sessions' workspaces: ${(error as Error).message}`);
      return [];
    });
    if (removed.length > 0)
      this.#log(
        'info',
        `removed ${removed.length} finished sessions' workspaces left by a dead worker`,
      );
  }

  async start(): Promise<void> {
    await this.#resolveSandboxes();
    this.#registration = await this.#untilStoreAnswers('registering', () =>
      this.#o.store.registerWorker(this.id, {
        onDoubt: (error) => this.#doubt(error),
        onConfirmed: () => this.#confirmed(),
      }),
    );
    const askedAt = Date.now();
    const storeNow = await this.#untilStoreAnswers('reading the store clock', () =>
      this.#o.store.nowMs(),
    );
    this.#storeClockOffsetMs = storeNow - (askedAt + Date.now()) / 2;
    const leases = await this.#untilStoreAnswers('reclaiming its sessions', () =>
      this.#o.store.reclaimOwned(this.id, this.#o.leaseMs, this.#claimFilter()),
    );
    for (const lease of leases) this.#runSession(lease, performance.now());
    // A worker killed between a session's end and its workspace's removal left the directory.
    if (this.#o.removeFinishedWorkspaces === true) void this.#sweepFinishedWorkspaces();
    if (this.#agents.size === 0) this.#log('warn', noAgentsWarning);
    const elsewhere = subAgentsRunElsewhere(this.#agents);
    if (elsewhere.length > 0)
      this.#log(
        'warn',
        `sub-agents this worker does not run (${elsewhere.join(', ')}): their sessions wait for a worker that has those agents registered`,
      );
    this.#loop = this.#claimLoop();
    this.#startTicker();
    this.#fullDisk = new FullDiskResumer({
      store: this.#o.store,
      log: (level, msg, sessionId) => this.#log(level, msg, sessionId),
      wake: () => this.wake(),
      checkEveryMs: Math.max(250, Math.min(this.#o.pollMs * 10, 2_000)),
      idleEveryMs: 60_000,
    });
    this.#fullDisk.start();
    // The agents, the store and this runtime are loaded by now: keep their compiled code for the
    // next start, which may follow a kill -9 that skips the save at exit.
    saveCompileCache();
  }

  /** Fires the schedules of this worker's agents; a session it starts is claimed at once. */
  #startTicker(): void {
    if (this.#o.schedules === false || this.#agents.size === 0) return;
    this.#ticker = new ScheduleTicker({
      ...this.#o.schedules,
      store: this.#o.store,
      agents: [...this.#agents.keys()],
      onFired: (fired) => {
        this.#events.emit('schedule.fired', fired);
        if (fired.sessionIds.length > 0) this.wake();
      },
      onError: (error, scheduleId) =>
        this.#log(
          'warn',
          `schedule ticker${scheduleId === undefined ? '' : ` (schedule ${scheduleId})`}: ${(error as Error)?.message ?? String(error)}`,
        ),
    });
    this.#ticker.start();
  }

  /**
   * Agents that run commands and name no sandbox get the default isolating driver; without one
   * the worker refuses to start (SANDBOX_UNAVAILABLE says what is missing and how to opt out).
   */
  async #resolveSandboxes(): Promise<void> {
    const needing = [...this.#agents.values()].filter(needsDefaultSandbox);
    if (needing.length === 0) return;
    const driver = await defaultSandboxDriver();
    for (const agent of needing) this.#agents.set(agent.name, { ...agent, sandbox: { driver } });
  }

  /** Only sessions of the agents this worker runs: the others wait for a worker that has them. */
  #claimFilter(): ClaimFilter {
    return { agents: [...this.#agents.keys()] };
  }

  /** Claims sooner than the next poll (e.g. right after a session was created in this process). */
  wake(): void {
    if (this.#wake === null) this.#wakeMissed = true;
    else this.#wake();
  }

  /** Stops claiming, stops every session at its next boundary and hands the leases back. */
  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#ticker?.stop();
    await this.#fullDisk?.stop();
    this.wake();
    await this.#loop;
    await this.#recovering;
    await Promise.all([...this.#running.values()].map((r) => r.done));
    await this.#registration?.close();
  }

  async #untilStoreAnswers<T>(doing: string, call: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await call();
      } catch (error) {
        // A second live process with this id is a mistake to report, not an outage to wait out.
        if (
          !isRetryable(error) ||
          isLongrunError(error, 'INVALID_STATE') ||
          this.#stop.signal.aborted
        )
          throw error;
        const delayMs = backoffMs(attempt, 200, 5_000);
        this.#log(
          'warn',
          `${doing}: the store does not answer (${(error as Error).message}); trying again in ${delayMs} ms`,
        );
        await pause(delayMs, this.#stop.signal);
      }
    }
  }

  /** The store cannot vouch for this worker any more: stop every side effect, claim nothing. */
  #doubt(error: Error): void {
    this.#live = false;
    this.#mustReclaim = true;
    this.#log('error', `${error.message}; stopping all ${this.#running.size} sessions`);
    this.#events.emit('liveness.doubt', { error, sessions: this.#running.size });
    for (const running of this.#running.values()) running.fence.abort(error);
  }

  /** Liveness is back: once the stopped sessions have settled, take back those still owned. */
  #confirmed(): void {
    this.#live = true;
    if (!this.#mustReclaim || this.#recovering !== null) return;
    this.#recovering = (async () => {
      await Promise.all([...this.#running.values()].map((r) => r.done));
      // Doubted again meanwhile: the next confirmation reclaims.
      if (!this.#live || this.#stop.signal.aborted) return;
      try {
        const sentAt = performance.now();
        const leases = await this.#o.store.reclaimOwned(
          this.id,
          this.#o.leaseMs,
          this.#claimFilter(),
        );
        this.#mustReclaim = false;
        this.#log('info', `liveness confirmed again; reclaimed ${leases.length} sessions`);
        this.#events.emit('liveness.confirmed', { reclaimed: leases.length });
        for (const lease of leases) this.#runSession(lease, sentAt);
      } catch (error) {
        // The leases lapse as they must; the next confirmation (or a claim) picks them up.
        this.#log('warn', `reclaiming after a doubt failed: ${(error as Error).message}`);
        await pause(500, this.#stop.signal);
      }
      this.wake();
    })().finally(() => {
      this.#recovering = null;
      if (this.#live && this.#mustReclaim && !this.#stop.signal.aborted) this.#confirmed();
    });
  }

  async #claimLoop(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      let claimed = false;
      if (this.#running.size < this.#o.concurrency && this.#live) {
        try {
          const sentAt = performance.now();
          const lease = await this.#o.store.claimNext(
            this.id,
            this.#o.leaseMs,
            this.#claimFilter(),
          );
          failures = 0;
          if (lease !== null) {
            claimed = true;
            this.#runSession(lease, sentAt);
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

  /**
   * Waits `pollMs`, or until wake(), or until the next timer this worker committed comes due (a
   * waiting session wakes at its time, not up to `pollMs` later). A wake() that came while the
   * worker was not idle (a claim in flight, which may have looked before the session it announces
   * existed) ends it at once.
   */
  #idle(): Promise<void> {
    if (this.#wakeMissed) {
      this.#wakeMissed = false;
      return Promise.resolve();
    }
    const storeNow = Date.now() + this.#storeClockOffsetMs;
    const nextTimer = this.#timerWakes.nextAfter(storeNow);
    // One millisecond late: a claim at the very instant could find the timer not yet due.
    const untilTimer = nextTimer === undefined ? Infinity : nextTimer - storeNow + 1;
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      const timer = setTimeout(done, Math.min(this.#o.pollMs, untilTimer));
      this.#wake = done;
    });
  }

  /**
   * Runs a claimed session. Never two runs of one session in this process: a claim of a session
   * it still runs (its lease had lapsed) fences the old run first — the claim already made its
   * writes stale — and starts the new one when the old one has settled.
   */
  #runSession(lease: Lease, sentAt: number): void {
    const { sessionId, epoch, headSeq } = lease;
    const atMs = lease.expiresAtMs - this.#o.leaseMs;
    this.#events.emit('session.claimed', { sessionId, epoch, headSeq, atMs });
    const previous = this.#running.get(lease.sessionId);
    previous?.fence.abort(new Error('the session was claimed again'));
    const keeper = new LeaseKeeper({
      store: this.#o.store,
      lease,
      leaseMs: this.#o.leaseMs,
      grantedSentAt: sentAt,
      onLost: (reason) => {
        this.#log('warn', `stopping session: ${reason}`, lease.sessionId);
        this.#events.emit('lease.lost', { sessionId: lease.sessionId, reason });
      },
    });
    const fence = new AbortController();
    const stopOrLost = AbortSignal.any([keeper.signal, this.#stop.signal, fence.signal]);
    const holding = (): boolean => {
      if (stopOrLost.aborted) return false;
      const now = performance.now();
      const liveness = this.#registration?.assuredUntil() ?? Number.POSITIVE_INFINITY;
      return now < keeper.assuredUntil && now < liveness;
    };
    const done = (previous?.done ?? Promise.resolve())
      .then(() => this.#drive(lease, keeper, stopOrLost, holding))
      .finally(() => {
        if (this.#running.get(lease.sessionId)?.done === done)
          this.#running.delete(lease.sessionId);
        if (this.#running.size === 0) {
          clearInterval(this.#watch);
          this.#watch = undefined;
        }
        this.wake();
      });
    this.#running.set(lease.sessionId, { keeper, fence, holding, done });
    this.#watch ??= setInterval(() => this.#checkHolding(), watchEveryMs).unref();
  }

  /**
   * The lease keeper and the liveness fence by their own timers; this watch repeats the check
   * every 50 ms. A frozen or stalled process runs its overdue timers in the order they became
   * due, so a tool's own timer can come before a far deadline's; the watch's next tick is never
   * far away, and tools can ask `holding()` themselves before each external step.
   */
  #checkHolding(): void {
    for (const [sessionId, running] of this.#running) {
      if (!running.fence.signal.aborted && !running.holding()) {
        const reason = "the lease or the worker's liveness lapsed by its clock";
        this.#log('warn', `stopping session: ${reason}`, sessionId);
        running.fence.abort(new Error(reason));
      }
    }
  }

  async #drive(
    lease: Lease,
    keeper: LeaseKeeper,
    stopOrLost: AbortSignal,
    holding: () => boolean,
  ): Promise<void> {
    const { store } = this.#o;
    const ended = (outcome: WorkerEventMap['session.ended']['outcome'], error?: unknown): void =>
      this.#events.emit('session.ended', {
        sessionId: lease.sessionId,
        outcome,
        ...(error === undefined ? {} : { error }),
      });
    keeper.start();
    try {
      const outcome = await this.#runWithRetries(lease, keeper, stopOrLost, holding);
      await keeper.stop();
      if (outcome === 'stopped' || outcome === 'completed')
        await store.releaseLease(keeper.lease).catch(() => undefined);
      ended(outcome);
    } catch (error) {
      await keeper.stop();
      if (isLongrunError(error, 'STORAGE_FULL')) {
        await this.#parkOnFullDisk(keeper.lease, error);
        ended('stopped');
        return;
      }
      if (isLongrunError(error, 'LEASE_LOST') || isLongrunError(error, 'SEQ_CONFLICT')) {
        // Someone else holds the session, or the log moved under this run: stop, and let the
        // next claim re-read the log. Nothing to park.
        this.#log('warn', `fenced: ${(error as Error).message}`, lease.sessionId);
        await store.releaseLease(keeper.lease).catch(() => undefined);
        ended('stopped');
        return;
      }
      if (isRetryable(error) || stopOrLost.aborted) {
        // Transient (the store went away, the lease or liveness is in doubt): the lease is
        // handed back if the store answers, else it lapses; the session is claimed again.
        this.#log('warn', `stopped, to be resumed: ${(error as Error).message}`, lease.sessionId);
        await store.releaseLease(keeper.lease).catch(() => undefined);
        ended('stopped');
        return;
      }
      const reason = `stopped by an error: ${(error as Error).message}`;
      this.#log('error', reason, lease.sessionId);
      await this.#pause(keeper.lease, reason).catch(() =>
        store.releaseLease(keeper.lease).catch(() => undefined),
      );
      ended('error', error);
    }
  }

  /**
   * Runs the session; a run that fails transiently (a read the store could not answer) starts
   * over from the log under the same lease, with backoff, for as long as the lease is kept.
   */
  async #runWithRetries(
    lease: Lease,
    keeper: LeaseKeeper,
    signal: AbortSignal,
    holding: () => boolean,
  ): Promise<RunOutcome> {
    for (let attempt = 1; ; attempt++) {
      try {
        const session = await this.#o.store.getSession(lease.sessionId);
        return await this.#runnerFor(session.agent, keeper.lease, signal, holding).run();
      } catch (error) {
        // A full disk is not retried here: the session is parked until there is room (#drive).
        if (!isRetryable(error) || signal.aborted || isLongrunError(error, 'STORAGE_FULL'))
          throw error;
        const delayMs = backoffMs(attempt, 25, 2_000);
        this.#log(
          'warn',
          `run interrupted by ${(error as Error).message}; resuming from the log in ${delayMs} ms`,
          lease.sessionId,
        );
        await pause(delayMs, signal);
        if (signal.aborted) throw error;
      }
    }
  }

  #runnerFor(
    name: string,
    lease: Lease,
    signal: AbortSignal,
    holding: () => boolean,
  ): { run(): Promise<RunOutcome> } {
    const { store, checkpointEvery } = this.#o;
    const common = {
      store,
      lease,
      signal,
      holding,
      events: this.#events,
      ...(checkpointEvery ? { checkpointEvery } : {}),
    };
    const agent = this.#agents.get(name);
    if (agent !== undefined) {
      let model = this.#models.get(name);
      if (model === undefined) {
        model = typeof agent.model === 'function' ? agent.model() : agent.model;
        this.#models.set(name, model);
      }
      return new AgentRunner({
        ...common,
        agent,
        model,
        workspaces: this.#workspaces,
        aheadWindow: () => aheadWindowFor(this.#running.size),
        ...(this.#o.removeFinishedWorkspaces === true ? { removeFinishedWorkspace: true } : {}),
        ...(this.#tenantPolicy === undefined ? {} : { tenantPolicy: this.#tenantPolicy }),
        ...(this.#tenantBudgets.size === 0
          ? {}
          : { tenantBudget: (tenantId: string) => this.#tenantBudgets.get(tenantId) }),
        ...(this.#o.secrets === undefined ? {} : { secrets: this.#o.secrets }),
        ...(this.#tenantDailyBudgets.size === 0
          ? {}
          : {
              tenantDailyBudget: (tenantId: string) => this.#tenantDailyBudgets.get(tenantId),
            }),
      });
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
    // An error after the run's last commit (cleaning up its workspace, say) does not park a
    // session its log says is over: the record says what the log says.
    const [last] = await this.#o.store.readEvents(lease.sessionId, headSeq - 1, 1);
    const over = last === undefined ? undefined : finishedBy[last.type];
    if (over !== undefined)
      this.#log(
        'warn',
        `the session's log says ${over}; not paused for: ${reason}`,
        lease.sessionId,
      );
    await this.#o.store.append({
      fence: lease,
      expectedSeq: headSeq,
      events: [],
      status: over === undefined ? { status: 'paused', reason } : { status: over },
      releaseLease: true,
    });
    if (over === undefined) await this.#tellParentPaused(lease.sessionId);
  }

  /**
   * Parks a session whose write found the store's disk full: paused, with a reason that says so,
   * in the room the store's reserve frees (without it, the status change would not fit either and
   * the session would look `running`). The resumer resumes it once the disk has room again.
   */
  async #parkOnFullDisk(lease: Lease, error: LongrunError): Promise<void> {
    this.#o.store.storageReserve?.release();
    try {
      await this.#pause(lease, fullDiskReason(error));
      this.#log('warn', `paused: ${error.message}`, lease.sessionId);
    } catch (parkError) {
      this.#log(
        'error',
        `the disk is full and the session could not be paused either (${(parkError as Error).message}); its lease lapses and it is claimed again once there is room`,
        lease.sessionId,
      );
      await this.#o.store.releaseLease(lease).catch(() => undefined);
    }
    this.#fullDisk?.parked();
  }

  /**
   * A sub-agent's session parked here tells its parent's call at once, as a pause its run made
   * does (AgentRunner): the parent's status then names it, instead of at its next re-check.
   */
  async #tellParentPaused(sessionId: SessionId): Promise<void> {
    const [created] = await this.#o.store.readEvents(sessionId, 0, 1).catch(() => []);
    if (created?.type !== 'session.created') return;
    const { parent, forkedFrom } = created.data;
    // A fork of a sub-agent's session is no child its parent waits for.
    if (parent === undefined || forkedFrom !== undefined) return;
    await tellParent(this.#o.store, sessionId, parent, 'paused');
  }

  #log(level: 'info' | 'warn' | 'error', msg: string, sessionId?: string): void {
    this.#events.emit('log', {
      level,
      msg,
      workerId: this.id,
      ...(sessionId === undefined ? {} : { sessionId }),
    });
  }
}

/** The events that end a session, and the status each leaves it in. */
const finishedBy: Partial<Record<string, 'completed' | 'failed' | 'cancelled'>> = {
  'session.completed': 'completed',
  'session.failed': 'failed',
  'session.cancelled': 'cancelled',
};

/** Checks a record of tenant policies now; a function's answers when a session starts. */
function tenantPolicyOf(
  given: WorkerOptions['tenantPolicies'],
): ((tenantId: string) => Policy | undefined) | undefined {
  if (given === undefined) return undefined;
  if (typeof given === 'function')
    return (tenantId) => {
      const policy = given(tenantId);
      return policy === undefined
        ? undefined
        : checkPolicy(policy, `the policy of tenant ${tenantId}`);
    };
  const policies = new Map(
    Object.entries(given).map(([tenantId, policy]) => [
      tenantId,
      checkPolicy(policy, `the policy of tenant ${tenantId}`),
    ]),
  );
  return (tenantId) => policies.get(tenantId);
}
