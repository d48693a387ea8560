import { readToolResultTool } from '../tools/tool-results.ts';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import {
  event,
  terminalStatuses,
  failureCode,
  readSignal,
  signalNames,
  pendingCalls,
  type Budget,
  type DailyBudget,
  type SecretStore,
  type Lease,
  type ModelClient,
  type OpenCall,
  type Policy,
  type SessionRecord,
  type SessionState,
  type SessionStore,
} from '@longrun/core';
import { SessionWriter } from '../session-writer.ts';
import { takeResumeRequests } from '../session-resume.ts';
import type { RunOutcome } from '../run-outcome.ts';
import type { AgentRunContext } from './agent-context.ts';
import { WorkerEvents } from '../worker/worker-events.ts';
import { settleCall } from './agent-calls.ts';
import { toolSpecs, type AgentDefinition } from './define-agent.ts';
import { modelStep } from './model-step.ts';
import { compactContext } from './context-compaction.ts';
import { resolveWait } from './agent-waits.ts';
import { evaluateOutcome } from './outcome-evaluator.ts';
import { AgentWorkspace, WorkspaceTracker, pathGuard } from './agent-workspace.ts';
import { harnessCheckpoint } from '../harness/checkpoint.ts';
import { loadAgentRun } from '../harness/resume-load.ts';
import { checkModelCall } from '../harness/gates.ts';
import { gateChain } from '../harness/limit-gates.ts';
import { policyAllowsAnyHost, policyLayers, writableUnder } from '../harness/policy-gate.ts';
import { cancelChildren, subAgentsTool } from './sub-agents.ts';
import { noticeOf, tellParent, tellThoseNamingIt, waitsForApproval } from './tell-ancestors.ts';
import { refuseModelCall } from '../harness/gate-verdicts.ts';
import { budgetStopOf } from '../harness/budget-charge.ts';
import { budgetExceededCode, budgetGate } from '../harness/budget-gate.ts';
import { takeBudgetRequests } from '../harness/budget-requests.ts';

/** Signals a person sends a session (core's signal table). */
export const userMessageSignal = signalNames.userMessage;
export const cancelSignal = signalNames.cancel;

export interface AgentRunnerOptions {
  store: SessionStore;
  agent: AgentDefinition;
  model: ModelClient;
  lease: Lease;
  signal: AbortSignal;
  /** ToolContext.holding (the worker's clocks); default: while `signal` has not aborted. */
  holding?: () => boolean;
  /** Told of deltas, commits and stalls; default: nobody listens. */
  events?: WorkerEvents;
  checkpointEvery?: number;
  /** The worker's record of the workspaces it holds; a fresh one forgets nothing that matters. */
  workspaces?: WorkspaceTracker;
  /** Remove the workspace directory when the run ends completed, failed or cancelled. */
  removeFinishedWorkspace?: boolean;
  /** The session writer's window of appends in flight (SessionWriter). */
  aheadWindow?: () => number;
  /** The policy that bounds every agent of a tenant (`WorkerOptions.tenantPolicies`). */
  tenantPolicy?: (tenantId: string) => Policy | undefined;
  /** The cap on every session budget of a tenant (`WorkerOptions.tenantBudgets`). */
  tenantBudget?: (tenantId: string) => Budget | undefined;
  /** A tenant's daily spend limits (`WorkerOptions.tenantDailyBudgets`). */
  tenantDailyBudget?: (tenantId: string) => DailyBudget | undefined;
  /** Credentials for `ToolContext.secret` (`WorkerOptions.secrets`). */
  secrets?: SecretStore;
}

/**
 * The agent harness: runs a claimed session's turns — model call, tool calls, approvals, follow-up
 * messages — from wherever its log stands, until the turn ends, it must wait, or the lease is
 * lost. Before every model call each tool call of the transcript has exactly one result.
 */
export class AgentRunner {
  readonly #o: AgentRunnerOptions;
  #ctx!: AgentRunContext;
  #lastSignalCheck = -Infinity;
  #lastMessageCheck = -Infinity;
  /** The latest resolved wait when the run started: a wake after it may carry a notice to pass on. */
  #wokenBy: SessionState['lastWake'] = null;

  constructor(options: AgentRunnerOptions) {
    this.#o = options;
  }

  async run(): Promise<RunOutcome> {
    const { store, agent, lease, signal } = this.#o;
    const events = this.#o.events ?? new WorkerEvents();
    // The checkpoint and the events after it: the state and the transcript so far.
    const { state, transcript, parts } = await loadAgentRun(store, lease.sessionId);
    const writer = new SessionWriter({
      store,
      lease,
      signal,
      state,
      checkpointOf: (next, appending) => harnessCheckpoint(next, transcript, appending, parts),
      events,
      ...(this.#o.checkpointEvery ? { checkpointEvery: this.#o.checkpointEvery } : {}),
      ...(this.#o.aheadWindow === undefined ? {} : { aheadWindow: this.#o.aheadWindow }),
    });
    writer.onApplied((e) => transcript.apply(e));
    // First, before the workspace or the sandbox is touched: a resume that fails again is a fact.
    // The sessions above a resumed sub-agent stop saying it waits for a person.
    if (await takeResumeRequests(store, writer)) await this.#tellAbove(writer.state, 'running');
    this.#wokenBy = writer.state.lastWake;
    const workspaceDir = join(
      resolve(agent.workspaceRoot ?? '.longrun/workspaces'),
      lease.sessionId,
    );
    mkdirSync(workspaceDir, { recursive: true });
    const session = await this.#sessionRecord();
    const tenantPolicy = session === null ? undefined : this.#o.tenantPolicy?.(session.tenantId);
    const tenantBudget = session === null ? undefined : this.#o.tenantBudget?.(session.tenantId);
    const tenantDailyBudget =
      session === null ? undefined : this.#o.tenantDailyBudget?.(session.tenantId);
    // A sub-agent runs under what its parent passed down (its parent's layers, the grant, what
    // was asked for it) and its own agent's policy; a root session under its tenant's and agent's.
    const parent = state.parent;
    const policies =
      parent === undefined
        ? policyLayers(agent, tenantPolicy)
        : [...parent.policies, ...policyLayers(agent, undefined)];
    const tools =
      agent.subAgents === undefined || session === null
        ? agent.tools
        : [
            ...agent.tools,
            subAgentsTool(agent.subAgents, {
              store,
              sessionId: lease.sessionId,
              tenantId: session.tenantId,
              rootSessionId: parent?.rootSessionId ?? lease.sessionId,
              policies,
              budget: {
                ledger: () => writer.state.budget,
                elapsedMs: async () => {
                  const created = writer.state.createdAtMs;
                  return created === undefined ? 0 : (await store.nowMs()) - created;
                },
                append: (events) => writer.append(events),
              },
            }),
          ];
    // The pager of outputs kept in the blob store: callable always, offered once one exists.
    const pager =
      agent.toolResults === false
        ? []
        : [
            readToolResultTool({
              blobs: agent.blobs ?? store.blobs,
              state: () => writer.state,
              config: agent.toolResults,
            }),
          ];
    // Hosts are enforced by the sandbox's network until an egress proxy checks them one by one.
    const sandbox =
      agent.sandbox?.network === 'allowed' && !policyAllowsAnyHost(policies)
        ? { ...agent.sandbox, network: 'none' as const }
        : agent.sandbox;
    const workspace = new AgentWorkspace({
      dir: workspaceDir,
      blobs: agent.blobs ?? store.blobs,
      tracker: this.#o.workspaces ?? new WorkspaceTracker(),
      ...(sandbox ? { sandbox } : {}),
      ...writableUnder(policies),
      paths: pathGuard(policies),
    });
    let outcome: RunOutcome | undefined;
    try {
      this.#ctx = {
        store,
        agent,
        model: this.#o.model,
        writer,
        transcript,
        tools: new Map([...pager, ...tools].map((t) => [t.name, t])),
        gates: gateChain(agent, policies),
        policies,
        ...(this.#o.secrets === undefined ? {} : { secrets: this.#o.secrets }),
        specs: toolSpecs(tools),
        signal,
        holding: this.#o.holding ?? (() => !signal.aborted),
        events,
        workspace,
        startedHere: new Set(),
        checkedHere: new Map(),
        ...(tenantBudget === undefined ? {} : { tenantBudget }),
        ...(tenantDailyBudget === undefined ? {} : { tenantDailyBudget }),
      };
      // After the resume requests (their head check saw the log as it was paused).
      await takeBudgetRequests(this.#ctx);
      await this.#prepareWorkspace();
      outcome = await this.#budgetedLoop();
      await this.#tellParent(outcome);
      return outcome;
    } finally {
      // Appends sent ahead land (or fail) before the worker acts on the outcome: nothing of this
      // run is in flight when the lease is handed back or the run starts over from the log.
      await writer.settled().catch(() => undefined);
      await workspace.close();
      if (
        this.#o.removeFinishedWorkspace === true &&
        terminalStatuses.some((status) => status === outcome)
      )
        await workspace.remove().catch((error: unknown) =>
          this.#o.events?.emit('log', {
            level: 'warn',
            msg: `could not remove the finished session's workspace ${workspaceDir}: ${(error as Error).message}`,
            sessionId: lease.sessionId,
          }),
        );
    }
  }

  /** The session's record, read when a tenant policy or sub-agents need its tenant. */
  async #sessionRecord(): Promise<SessionRecord | null> {
    const { tenantPolicy, tenantBudget, tenantDailyBudget, store, lease, agent } = this.#o;
    const needed = tenantPolicy ?? tenantBudget ?? tenantDailyBudget ?? agent.subAgents;
    if (needed === undefined) return null;
    return store.getSession(lease.sessionId);
  }

  /**
   * A sub-agent's session that ended wakes its parent's waiting call (and the sessions further up
   * whose status still names it); one that stopped for a person (paused, or waiting for an
   * approval) tells its parent, whose status then names it and what to do; a parent woken by such
   * a notice passes it on once it has parked again, so the root's status names it too. Should a
   * signal be lost (the worker dies first), each call above looks again on its own timer.
   */
  async #tellParent(outcome: RunOutcome): Promise<void> {
    const state = this.#ctx.writer.state;
    if (terminalStatuses.some((status) => status === outcome)) {
      await this.#tellAbove(state, outcome);
      return;
    }
    const notice = noticeOf(outcome, state, this.#wokenBy);
    if (notice !== null) await this.#tellAbove(state, notice);
  }

  async #tellAbove(state: SessionState, status: string): Promise<void> {
    const { parent, forkedAtSeq } = state;
    // A fork of a sub-agent's session is no child its parent waits for: it keeps only the policies.
    if (parent === undefined || forkedAtSeq !== undefined) return;
    const { store, lease } = this.#o;
    await tellParent(store, lease.sessionId, parent, status);
    if (terminalStatuses.some((s) => s === status))
      await tellThoseNamingIt(store, lease.sessionId, parent);
  }

  /**
   * Restores the log's last snapshot (a worker on another machine, or a restarted one), lets the
   * agent prepare what is missing, and records the first snapshot of a new session's workspace.
   */
  async #prepareWorkspace(): Promise<void> {
    const { writer, workspace, agent } = this.#ctx;
    const last = writer.state.workspace ?? null;
    const snapshots = agent.workspaceSnapshots !== false;
    if (last !== null && snapshots) await workspace.restore(last);
    else workspace.forgetRecorded();
    await agent.prepareWorkspace?.(workspace.files, writer.state.input);
    if (snapshots && last === null) {
      const first = await workspace.snapshot(0, { edits: false });
      if (first !== null && 'event' in first) await writer.append([first.event]);
    }
  }

  /**
   * The loop, with the budget's stops: a model call that would not fit pauses the session
   * (BUDGET_EXCEEDED) unless a raise has arrived meanwhile; a cost budget on an unpriced model
   * fails it.
   */
  async #budgetedLoop(): Promise<RunOutcome> {
    const ctx = this.#ctx;
    for (;;) {
      try {
        return await this.#loop();
      } catch (error) {
        const stop = budgetStopOf(error);
        if (stop === null) throw error;
        const { message } = stop.error;
        if (stop.kind === 'unpriced') {
          await ctx.writer.append([event('session.failed', { code: stop.error.code, message })], {
            status: { status: 'failed', reason: message },
            releaseLease: true,
          });
          return 'failed';
        }
        if (await takeBudgetRequests(ctx)) continue;
        return refuseModelCall(ctx, {
          gate: budgetGate.name,
          point: 'model.call',
          decision: { decision: 'pause', reason: message, code: budgetExceededCode },
        });
      }
    }
  }

  async #loop(): Promise<RunOutcome> {
    const ctx = this.#ctx;
    while (!ctx.signal.aborted) {
      const s = ctx.writer.state;
      if (s.status === 'failed' || s.status === 'cancelled') return this.#recordSays(s.status);
      // Both checks look at the store at most once a second: most turns answer without a promise.
      const cancel = this.#cancelRequested();
      if (cancel !== false && (await cancel)) return 'cancelled';
      if (s.status === 'waiting') {
        const approval = waitsForApproval(s);
        if (!(await resolveWait(ctx))) return 'waiting';
        // Decided (or expired): the sessions above stop saying it waits for a person.
        if (approval && ctx.writer.state.wait === null)
          await this.#tellAbove(ctx.writer.state, 'running');
        continue;
      }
      if (s.modelAttempt !== null) {
        await this.#supersedeInterruptedAttempt(s.modelAttempt);
        continue;
      }
      const pending = pendingCalls(s);
      if (pending.length > 0) {
        const settled = await settleCall(ctx, pending[0] as OpenCall, pending[1]);
        if (settled !== 'continue') return settled;
        continue;
      }
      const turnOver =
        s.status === 'completed' || (s.lastResponse !== null && s.lastResponse.toolCallCount === 0);
      const message = this.#takeUserMessage(turnOver);
      if (message !== false && (await message)) continue;
      if (s.status === 'completed') return this.#recordSays('completed');
      if (turnOver) {
        const answer = s.lastResponse?.text ?? '';
        const outcome = ctx.agent.outcome;
        if (outcome === undefined) {
          if (await this.#completeTurn(answer)) continue;
          return 'completed';
        }
        // A fresh-context evaluator judges the answer first: the turn goes on with its feedback,
        // or completes with the outcome.
        const evaluated = await evaluateOutcome(ctx, outcome, s, answer);
        if (evaluated === 'stopped') return 'stopped';
        if (evaluated === 'continue' || (await this.#takeUserMessage(true))) continue;
        return 'completed';
      }
      const step = s.steps + 1;
      const approved = s.modelApproval?.step === step && s.modelApproval.status === 'granted';
      const verdict = checkModelCall(ctx.gates, { agent: ctx.agent, state: s, step }, approved);
      if (verdict !== null) {
        // A raise sent while the session ran is seen before it pauses for its budget.
        if (verdict.gate === budgetGate.name && (await takeBudgetRequests(ctx))) continue;
        return refuseModelCall(ctx, verdict);
      }
      // The transcript is compacted first if the call would not fit the context window.
      const compaction = await compactContext(ctx);
      if (compaction === 'failed' || compaction === 'stopped') return compaction;
      if (compaction === 'compacted') continue;
      const outcome = await modelStep(ctx);
      if (outcome !== 'continue') return outcome;
    }
    return 'stopped';
  }

  /**
   * The log says the session is over: its record must say so too. It may not, when a run failed
   * after its last commit and parked the session, or the session was resumed after it ended; a
   * record left claimable would be claimed and handed back without end.
   */
  async #recordSays(
    status: 'completed' | 'failed' | 'cancelled',
  ): Promise<'completed' | 'failed' | 'cancelled'> {
    const ctx = this.#ctx;
    const record = await ctx.store.getSession(this.#o.lease.sessionId);
    if (record.status !== status) await ctx.writer.append([], { status: { status } });
    return status;
  }

  /** A model call whose worker died: its streamed text is superseded and the call is made again. */
  async #supersedeInterruptedAttempt(attempt: { step: number; attempt: number }): Promise<void> {
    await this.#ctx.writer.append([
      event('model.failed', {
        ...attempt,
        code: failureCode.workerStopped,
        message:
          'the worker running this model call stopped; its output is superseded and the call is made again',
        retryable: true,
        retryInMs: 0,
      }),
    ]);
  }

  /**
   * Starts a new turn with a follow-up message, if one is waiting. Between steps of a turn the
   * inbox is read at most once a second; when a turn is over, always, before it completes.
   */
  #takeUserMessage(turnOver: boolean): Promise<boolean> | false {
    const now = performance.now();
    if (!turnOver && now - this.#lastMessageCheck < 1_000) return false;
    this.#lastMessageCheck = now;
    return this.#readUserMessage();
  }

  async #readUserMessage(): Promise<boolean> {
    const ctx = this.#ctx;
    const [message] = await ctx.store.pendingSignals(ctx.writer.lease.sessionId, userMessageSignal);
    if (message === undefined) return false;
    // A payload that is not a message's is still the person's words, as JSON.
    const text =
      readSignal(userMessageSignal, message.payload)?.text ?? JSON.stringify(message.payload);
    await ctx.writer.append([event('user.messaged', { text, signalId: message.id })], {
      consumeSignals: [message.id],
      status: { status: 'running' },
    });
    return true;
  }

  /**
   * Completes the turn still holding the lease (the worker hands it back), then looks for a
   * follow-up message once more: one sent before the commit starts a new turn here; one sent
   * after it finds the session completed and reopens it. Returns whether a new turn started.
   */
  async #completeTurn(text: string): Promise<boolean> {
    await this.#ctx.writer.append([event('session.completed', { output: text })], {
      status: { status: 'completed' },
    });
    return this.#takeUserMessage(true);
  }

  /** Checks for a cancel request at most once a second, and always when a wait ends. */
  #cancelRequested(): Promise<boolean> | false {
    const now = performance.now();
    if (this.#ctx.writer.state.status !== 'waiting' && now - this.#lastSignalCheck < 1_000)
      return false;
    this.#lastSignalCheck = now;
    return this.#readCancel();
  }

  async #readCancel(): Promise<boolean> {
    const ctx = this.#ctx;
    const [cancel] = await ctx.store.pendingSignals(ctx.writer.lease.sessionId, cancelSignal);
    if (cancel === undefined) return false;
    const { by, reason } = readSignal(cancelSignal, cancel.payload) ?? {
      by: 'unknown',
      reason: null,
    };
    // Its children first: a crash before the cancel commits leaves the request pending, and the
    // next run cancels them again (a child already ended or cancelled is left as it is).
    const open = pendingCalls(ctx.writer.state);
    await cancelChildren(
      ctx.store,
      ctx.writer.lease.sessionId,
      open.map((c) => ({
        step: ctx.writer.state.steps,
        callIndex: c.callIndex,
        tool: c.tool,
        args: c.args,
      })),
      by,
    );
    const unanswered = open.map((call) =>
      event('tool.completed', {
        step: ctx.writer.state.steps,
        callIndex: call.callIndex,
        tool: call.tool,
        ok: false,
        output: 'cancelled: the session was cancelled before this call completed',
        attempt: 0,
      }),
    );
    await ctx.writer.append([...unanswered, event('session.cancelled', { reason, by })], {
      consumeSignals: [cancel.id],
      status: { status: 'cancelled', reason: `cancelled by ${by}${reason ? `: ${reason}` : ''}` },
      releaseLease: true,
    });
    return true;
  }
}
