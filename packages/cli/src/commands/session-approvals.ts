import {
  LongrunError,
  visibleText,
  type SessionId,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import {
  argumentsShown,
  pendingApprovals,
  readWholeArguments,
  type PendingApproval,
} from '@longrun/runtime';

/**
 * `longrun sessions approvals <id> [approval-id]`: what a person decides on, shown so that nothing
 * in it can hide. Without an approval id, the session's pending approvals with their arguments as
 * the log holds them, and a warning on each whose arguments were too large for the log (only a
 * capped view is there; padding can push a payload past it). With one, that approval with its
 * whole arguments, read back from the blob store. Runs of spaces, tabs, control and invisible
 * characters are written out as ⟨…⟩ markers (which also keeps a terminal's control sequences
 * out of the output).
 */
export async function approvalsOutput(
  store: SessionStore,
  id: SessionId,
  approvalId: string | undefined,
  json: boolean,
): Promise<{ lines: string[]; ok: boolean }> {
  const pending = pendingApprovals(await wholeLog(store, id));
  if (approvalId === undefined) {
    if (json) return { lines: [JSON.stringify({ approvals: pending.map(listed) })], ok: true };
    if (pending.length === 0) return { lines: [`no pending approvals in session ${id}`], ok: true };
    return { lines: pending.flatMap((p) => listLines(id, p)), ok: true };
  }
  const approval = pending.find((p) => p.approvalId === approvalId);
  if (approval === undefined) {
    const list = pending.map((p) => p.approvalId).join(', ') || 'none';
    throw new LongrunError(
      'NOT_FOUND',
      `no pending approval ${approvalId} in session ${id} (decided, expired, answered otherwise, or never requested); pending: ${list}`,
    );
  }
  const whole = await readWholeArguments(approval, store.blobs);
  if (json) {
    const { sha256, problem } = whole;
    const body = { approval: listed(approval), arguments: whole.arguments, sha256, problem };
    return { lines: [JSON.stringify(body)], ok: problem === null };
  }
  const lines = [header(approval), `  argsHash ${approval.argsHash} (what a decision binds to)`];
  if (whole.problem !== null) {
    lines.push(`  ✗ the whole arguments cannot be shown: ${whole.problem.message}`);
    return { lines, ok: false };
  }
  lines.push(
    `  sha256 of the whole arguments ${whole.sha256}${approval.inputRef === null ? '' : ' (named by the view the decision binds to)'}`,
    `  arguments, all ${count(whole.chars)} characters ${markerNote}:`,
    ...shown(whole.arguments),
    decideLine(id, approval),
  );
  return { lines, ok: true };
}

const markerNote = '(⟨…⟩ marks runs of spaces, tabs and invisible characters)';
const count = (n: number) => n.toLocaleString('en-US');

function listLines(id: SessionId, p: PendingApproval): string[] {
  if (p.point === 'model.call') {
    return [
      `${header(p)}: gate ${visibleText(p.question?.gate ?? '')} asks: ${visibleText(p.question?.reason ?? '')}`,
      decideLine(id, p),
    ];
  }
  const extent = argumentsShown(p);
  const lines = [header(p), `  arguments ${markerNote}:`, ...shown(p.args)];
  if (!extent.complete) {
    lines.push(
      `  ⚠ ${count(extent.chars - extent.shownChars)} more characters not shown: these arguments are ${count(extent.chars)} characters, only the first ${count(extent.shownChars)} are above, and approving runs all of them.`,
      `    Print them all before deciding: longrun sessions approvals ${id} ${p.approvalId}`,
    );
  }
  lines.push(decideLine(id, p));
  return lines;
}

function header(p: PendingApproval): string {
  const what =
    p.point === 'model.call'
      ? `the model call of step ${p.step}`
      : `${visibleText(p.tool ?? '')}  step ${p.step} call ${p.callIndex ?? '?'}`;
  const expires =
    p.expiresAtMs === null ? '' : `  expires ${new Date(p.expiresAtMs).toISOString()}`;
  return `${p.approvalId}  ${what}  requested ${new Date(p.requestedAtMs).toISOString()}${expires}`;
}

/** The arguments' pretty JSON, hidden characters written out, indented under their label. */
function shown(args: PendingApproval['args']): string[] {
  return visibleText(JSON.stringify(args, null, 2))
    .split('\n')
    .map((line) => `    ${line}`);
}

function decideLine(id: SessionId, p: PendingApproval): string {
  return `  decide: longrun sessions approve|deny ${id} ${p.approvalId}`;
}

/** An approval as `--json` prints it: as the HTTP API's inbox lists it. */
function listed(p: PendingApproval) {
  const { inputRef: _kept, ...approval } = p;
  const extent = argumentsShown(p);
  return {
    ...approval,
    argumentsComplete: extent.complete,
    argumentsChars: extent.chars,
    argumentsShownChars: extent.shownChars,
  };
}

async function wholeLog(store: SessionStore, id: SessionId): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  for (;;) {
    const page = await store.readEvents(id, events.length, 2_000);
    events.push(...page);
    if (page.length < 2_000) return events;
  }
}
