import { readToolResultName } from '../tools/tool-results-config.ts';
import { hasKeptContent, keepLargeOutput } from '../tools/tool-results.ts';
import { fullArgs } from '../tools/tool-inputs.ts';
import {
  event,
  grantFor,
  readInvalidToolArgs,
  type EffectChange,
  type NewEvent,
  type OpenCall,
  type SessionState,
  type Tool,
  type ToolCall,
} from '@longrun/core';
import { callKey, callStart, outcomeUnknown, runCall } from '../run-call.ts';
import type { Suspension } from '../call-waits.ts';
import type { AgentRunContext } from './agent-context.ts';
import { parseToolInput } from './define-agent.ts';
import { argsHash } from './approvals.ts';
import { secretFor, sessionSecretsOf } from './agent-secrets.ts';
import { newApproval, waitForApproval } from './approval-wait.ts';
import { foldAhead } from '../session-writer.ts';
import { checkToolCall, type Passed } from '../harness/gates.ts';
import { gateDecided, passedDecided, pauseForGate } from '../harness/gate-verdicts.ts';

type Checked = { ok: true; tool: Tool; input: unknown } | { ok: false; message: string };

/**
 * Finds the tool and validates the model's arguments — the whole of them, read back from the blob
 * store when they were kept there — or says what is wrong in words for the model.
 */
export async function checkCall(ctx: AgentRunContext, call: ToolCall): Promise<Checked> {
  const tool = ctx.transcript.offered(call.tool) ? ctx.tools.get(call.tool) : undefined;
  if (tool === undefined) {
    // The tools the model is offered: the agent's, and the pager once there is a kept output.
    const pager = hasKeptContent(ctx.writer.state) && ctx.tools.has(readToolResultName);
    const names =
      [...ctx.specs.map((spec) => spec.name), ...(pager ? [readToolResultName] : [])]
        .filter((n) => ctx.transcript.offered(n))
        .join(', ') || 'none';
    return {
      ok: false,
      message: `there is no tool named ${JSON.stringify(call.tool)}; the tools are: ${names}`,
    };
  }
  const args = await fullArgs(call, ctx.agent.blobs ?? ctx.store.blobs);
  if (args === null)
    return {
      ok: false,
      message: `the arguments of this ${tool.name} call were kept outside the transcript and are lost: make the call again`,
    };
  const invalid = readInvalidToolArgs(args);
  if (invalid !== null)
    return {
      ok: false,
      message: `could not read the arguments for ${tool.name}: ${invalid.reason}`,
    };
  const parsed = await parseToolInput(tool, args);
  return parsed.ok ? { ok: true, tool, input: parsed.input } : parsed;
}

/**
 * Adds a call's `tool.started` to a commit that is being made anyway (saving an fsync), but only
 * for a call that will run at once: a known tool, valid arguments, every gate allowing it (asked
 * on the state that commit makes), and not `unsafe` (an unsafe call's start is committed alone,
 * right before it runs).
 */
export async function chainStart(
  ctx: AgentRunContext,
  step: number,
  call: ToolCall,
  events: NewEvent[],
  effects: EffectChange[],
): Promise<void> {
  const checked = await checkCall(ctx, call);
  if (!checked.ok || checked.tool.effect === 'unsafe') return;
  const ahead = foldAhead(ctx.writer.state, ctx.writer.lease.sessionId, events);
  const open = ahead.calls.find((c) => c.callIndex === call.callIndex);
  if (open === undefined) return;
  const at = { agent: ctx.agent, state: ahead, step, call: open, ...checked };
  const passed: Passed[] = [];
  if (checkToolCall(ctx.gates, at, sessionGranted(ahead, call), passed) !== null) return;
  events.push(...passedDecided(passed, step, call.callIndex, checked.tool.name));
  startEvents(ctx, step, call, checked.tool, events, effects);
  ctx.checkedHere.set(`${step}:${call.callIndex}`, checked);
}

/**
 * A person granted calls like this one for the rest of the session (scope `tool`, or `arguments`
 * with these exact arguments): the grant answers every gate that asks about it, as the call's own
 * approval would, and never one that denies it.
 */
function sessionGranted(state: SessionState, call: ToolCall): boolean {
  // Most sessions hold no grant for the tool: its arguments need no hashing then.
  if (state.grants?.some((g) => g.tool === call.tool) !== true) return false;
  return grantFor(state, call.tool, argsHash(call.tool, call.args)) !== undefined;
}

function startEvents(
  ctx: AgentRunContext,
  step: number,
  call: ToolCall,
  tool: Tool,
  events: NewEvent[],
  effects: EffectChange[],
): void {
  const start = callStart(ctx.writer.lease.sessionId, step, call.callIndex, tool);
  events.push(start.event);
  effects.push(start.effect);
  ctx.startedHere.add(`${step}:${call.callIndex}`);
}

/**
 * Gives one open call its one result: an error the model can act on (unknown tool, bad
 * arguments, denied approval), a durable wait for a person's approval, or the tool's own result
 * — recovered by effect class if a dead worker had started it. Returns 'waiting' when parked.
 */
export async function settleCall(
  ctx: AgentRunContext,
  call: OpenCall,
  next: OpenCall | undefined,
): Promise<'waiting' | 'paused' | 'continue'> {
  const step = ctx.writer.state.steps;
  const base = { step, callIndex: call.callIndex, tool: call.tool };
  const key = `${step}:${call.callIndex}`;
  const checkedBefore = ctx.checkedHere.get(key);
  ctx.checkedHere.delete(key);
  const checked: Checked =
    checkedBefore === undefined ? await checkCall(ctx, call) : { ok: true, ...checkedBefore };
  const finish = async (
    events: NewEvent[],
    effects: EffectChange[],
    ahead = false,
  ): Promise<'continue'> => {
    if (next !== undefined) await chainStart(ctx, step, next, events, effects);
    const extra = { effects, checkpoint: true };
    await (ahead
      ? ctx.writer.appendAhead(events, extra, { withNext: true })
      : ctx.writer.append(events, extra));
    return 'continue';
  };
  if (!checked.ok)
    return finish(
      [event('tool.completed', { ...base, ok: false, output: checked.message, attempt: 0 })],
      [],
    );
  const { tool, input } = checked;
  // A call suspended on a wait that resolved is resumed, not interrupted: it runs again from its
  // start with its waits replayed, whatever its effect class.
  const resumed = call.suspended === 'resumable';
  const interrupted =
    call.started !== null &&
    call.suspended === undefined &&
    !ctx.startedHere.has(`${step}:${call.callIndex}`);
  const rerun = call.approval?.purpose === 'rerun' ? call.approval : undefined;
  if (interrupted && rerun?.status === 'denied') {
    return finish(...unknownOutcome(ctx, step, call, tool));
  }
  // The gates are asked before the call starts; one that started had passed them already. The
  // decisions recorded for it go in with its start.
  let decisions: NewEvent[] = [];
  if (call.started === null) {
    const approval = call.approval?.purpose === 'rerun' ? undefined : call.approval;
    if (approval?.status === 'denied') {
      const why = approval.reason === null ? '' : `: ${approval.reason}`;
      const output = `a person denied this call${why}. Do not repeat it unchanged.`;
      return finish([event('tool.completed', { ...base, ok: false, output, attempt: 0 })], []);
    }
    const state = ctx.writer.state;
    const at = { agent: ctx.agent, state, step, call, tool, input };
    const granted = approval?.status === 'granted' || sessionGranted(state, call);
    const passed: Passed[] = [];
    const verdict = checkToolCall(ctx.gates, at, granted, passed);
    decisions = passedDecided(passed, step, call.callIndex, tool.name);
    if (verdict !== null) {
      const decided = [...decisions, gateDecided(verdict, step, call.callIndex, tool.name)];
      const { decision } = verdict;
      if (decision.decision === 'pause') return pauseForGate(ctx, decided, decision.reason);
      if (decision.decision === 'ask') {
        await requestApproval(ctx, call, tool, 'run', decided);
        return 'waiting';
      }
      const output = `refused by ${verdict.gate}: ${decision.reason}`;
      return finish(
        [...decided, event('tool.completed', { ...base, ok: false, output, attempt: 0 })],
        [],
      );
    }
  }
  const snapshots = tool.effect !== 'pure' && ctx.agent.workspaceSnapshots !== false;
  // A call changes the workspace only through its files or its sandbox. One that did neither
  // needs no snapshot (a scan of the whole workspace) — unless an earlier run of it, on a worker
  // that stopped, may have.
  let changing = false;
  const beforeChange = (): void => {
    if (changing || !snapshots) return;
    changing = true;
    ctx.workspace.markChanging();
  };
  if (interrupted) beforeChange();
  if (resumed) ctx.startedHere.add(`${step}:${call.callIndex}`);
  const secrets = await sessionSecretsOf(ctx);
  const result = await runCall({
    store: ctx.store,
    fence: ctx.writer.lease,
    sessionId: ctx.writer.lease.sessionId,
    step,
    call,
    tool,
    input,
    workspace: ctx.workspace.forCall(beforeChange),
    interrupted,
    resumed,
    webhookBaseUrl: ctx.agent.webhookBaseUrl ?? null,
    onUnknownOutcome:
      rerun?.status === 'granted'
        ? 'rerun'
        : ctx.agent.unknownOutcome === 'fail'
          ? 'record'
          : 'report',
    signal: ctx.signal,
    holding: ctx.holding,
    append: (events, extra) => ctx.writer.append(events, extra),
    settled: () => ctx.writer.settled(),
    secret: (name) => secretFor(ctx, step, call.callIndex, tool.name, name),
    secrets,
    startEvents: (events, effects) => {
      events.push(...decisions);
      startEvents(ctx, step, call, tool, events, effects);
    },
  });
  if (ctx.signal.aborted) return 'continue';
  if (result.outcomeUnknown === true) {
    await requestApproval(ctx, call, tool, 'rerun');
    return 'waiting';
  }
  if (result.suspended !== undefined) return suspend(ctx, step, result.suspended, changing);
  // An output too large for the transcript goes to the blob store before its result commits.
  if (ctx.agent.toolResults !== false) {
    const blobs = ctx.agent.blobs ?? ctx.store.blobs;
    const config = ctx.agent.toolResults;
    result.events = await Promise.all(result.events.map((e) => keepLargeOutput(e, blobs, config)));
  }
  // The files the call changed are snapshotted before its result commits, and recorded with it:
  // as edits in the result itself when they are small, else as a stored snapshot beside it.
  const ran = result.events.some((e) => e.type === 'tool.completed');
  if (ran && changing) {
    const record = await ctx.workspace.snapshot(step, { edits: true, secrets: secrets.mask });
    if (record !== null && 'event' in record) result.events.push(record.event);
    if (record !== null && 'edits' in record)
      result.events = result.events.map((e) =>
        e.type === 'tool.completed'
          ? { ...e, data: { ...e.data, workspaceEdits: record.edits } }
          : e,
      );
  }
  // The result of a call that may run again, and changed no files, need not be durable before
  // the next model call: after a crash the call runs again (DESIGN §4), and the next model call
  // is made again on its new result. It is committed with that call's response (one commit a
  // step), or at the end of this turn of the event loop if the model does not answer in it.
  const repeatable = tool.effect === 'pure' || tool.effect === 'idempotent';
  return finish(result.events, result.effects, repeatable && !changing);
}

/**
 * The call suspended on a new wait: records it (after a snapshot of the files the call changed,
 * so a worker elsewhere resumes on them) and parks the session, giving the lease up.
 */
async function suspend(
  ctx: AgentRunContext,
  step: number,
  suspension: Suspension,
  changing: boolean,
): Promise<'waiting'> {
  const events: NewEvent[] = [];
  if (changing) {
    // No result to carry edits in: the snapshot is stored.
    const record = await ctx.workspace.snapshot(step, { edits: false });
    if (record !== null && 'event' in record) events.push(record.event);
  }
  events.push(...suspension.events);
  await ctx.writer.append(events, { status: suspension.status, releaseLease: true });
  return 'waiting';
}

/** A person declined to run an interrupted unsafe call again: its outcome stays unknown. */
function unknownOutcome(
  ctx: AgentRunContext,
  step: number,
  call: OpenCall,
  tool: Tool,
): [NewEvent[], EffectChange[]] {
  const { effect } = callStart(ctx.writer.lease.sessionId, step, call.callIndex, tool);
  const idempotencyKey = callKey(ctx.writer.lease.sessionId, step, call);
  const result = outcomeUnknown(
    { step, callIndex: call.callIndex, tool: tool.name },
    { ...effect, idempotencyKey },
  );
  return [result.events, result.effects];
}

async function requestApproval(
  ctx: AgentRunContext,
  call: OpenCall,
  tool: Tool,
  purpose: 'run' | 'rerun',
  before: NewEvent[] = [],
): Promise<void> {
  const approval = await newApproval(ctx);
  const request = event('approval.requested', {
    ...approval,
    step: ctx.writer.state.steps,
    callIndex: call.callIndex,
    tool: tool.name,
    argsHash: argsHash(tool.name, call.args),
    purpose,
  });
  const { approvalId } = approval;
  await waitForApproval(
    ctx,
    approval,
    [...before, request],
    purpose === 'run'
      ? `waiting for approval ${approvalId} of a ${tool.name} call`
      : `a ${tool.name} call was interrupted and its outcome is unknown: waiting for a person to decide whether to run it again (approval ${approvalId})`,
  );
}
