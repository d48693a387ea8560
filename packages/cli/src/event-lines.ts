import { terminalText, visibleText, type EventDataByType, type StoredEvent } from '@longrun/core';

/** Where the text of a line's continuation starts: under the text after `seq NNNN  `. */
const indent = ' '.repeat('seq 0000  '.length);

/**
 * One human line per event for live progress, or null for events that need no line. Its text is
 * a model's, a tool's or a person's as well as longrun's: terminal controls in it are written out
 * (`terminalText`), so none can act on the terminal that prints it.
 */
export function describeEvent(
  e: StoredEvent,
  options: { totalSteps?: number; modelText?: boolean } = {},
): string | null {
  const line = eventLine(e, options);
  return line === null ? null : terminalText(line);
}

function eventLine(
  e: StoredEvent,
  options: { totalSteps?: number; modelText?: boolean },
): string | null {
  const { totalSteps, modelText = true } = options;
  const seq = `seq ${String(e.seq).padStart(4)}`;
  switch (e.type) {
    case 'session.created':
      return e.data.forkedFrom === undefined
        ? `${seq}  session created`
        : `${seq}  session created: a fork of ${e.data.forkedFrom.sessionId} at seq ${e.data.forkedFrom.seq}`;
    case 'user.messaged':
      return `${seq}  user: ${e.data.text}`;
    case 'model.requested': {
      const from = e.data.continues;
      if (e.data.attempt === 1 && from === undefined) return null;
      const line = `${seq}  step ${e.data.step}: model attempt ${e.data.attempt}`;
      return from === undefined
        ? line
        : `${line}, continuing attempt ${from.attempt} from its first ${from.chars} characters`;
    }
    case 'model.streamed':
      return null;
    case 'model.failed':
      return `${seq}  step ${e.data.step}: model attempt ${e.data.attempt} failed (${e.data.code}: ${e.data.message})${e.data.retryInMs === null ? '' : `; retrying in ${e.data.retryInMs} ms`}`;
    case 'gate.decided': {
      const call = e.data.callIndex === undefined ? 'model call' : `call ${e.data.callIndex}`;
      return `${seq}  gate ${e.data.gate}: ${e.data.decision} (step ${e.data.step} ${call}): ${e.data.reason}`;
    }
    case 'policy.decided':
      // An allow is told by the call that follows; a deny or an ask is worth a line.
      return e.data.decision === 'allow'
        ? null
        : `${seq}  policy: ${e.data.decision} ${e.data.tool} (step ${e.data.step} call ${e.data.callIndex}, ${e.data.layer} ${e.data.rule}${e.data.approved ? ', approved' : ''}): ${e.data.reason}`;
    case 'approval.requested':
      if (e.data.point === 'model.call')
        return `${seq}  ⏸ approval ${e.data.approvalId} needed for the model call of step ${e.data.step} (gate ${e.data.gate}: ${e.data.reason}) — longrun sessions approve <session> ${e.data.approvalId}`;
      return e.data.purpose === 'rerun'
        ? `${seq}  ⏸ ${e.data.tool} (step ${e.data.step}) was interrupted and its outcome is unknown: run it again? — longrun sessions approve|deny <session> ${e.data.approvalId}`
        : `${seq}  ⏸ approval ${e.data.approvalId} needed for ${e.data.tool} (step ${e.data.step}) — read its arguments: longrun sessions approvals <session> ${e.data.approvalId}; decide: longrun sessions approve <session> ${e.data.approvalId}`;
    case 'approval.granted':
      return `${seq}  ✓ approval ${e.data.approvalId} granted by ${e.data.by}`;
    case 'approval.denied':
      return `${seq}  ✗ approval ${e.data.approvalId} denied by ${e.data.by}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'session.cancelled':
      return `${seq}  session cancelled by ${e.data.by}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'session.resumed':
      return `${seq}  ▶ session resumed by ${e.data.by}${e.data.reason ? `: ${e.data.reason}` : ''}`;
    case 'budget.set':
      return `${seq}  budget set by ${e.data.by}: ${JSON.stringify(e.data.budget)}`;
    case 'budget.reserved':
    case 'budget.settled':
      return null;
    case 'model.responded': {
      // The whole text of the model's message, its lines indented under the first, then its calls.
      const step = `${seq}  step ${e.data.step}${totalSteps ? `/${totalSteps}` : ''}`;
      // Arguments are the model's (a prompt injection's): runs of spaces and invisible characters
      // are written out, so none can hide the rest of the line.
      const calls = e.data.toolCalls
        .map((c) => `${c.tool} ${visibleText(JSON.stringify(c.args))}`)
        .join(', ');
      const text = modelText ? e.data.text.trim() : '';
      const said = text === '' ? null : `${step}  model: ${text.replaceAll('\n', `\n${indent}`)}`;
      if (said !== null && calls === '') return said;
      const called = `${step}  model → ${calls || 'no tool calls'}`;
      return said === null ? called : `${said}\n${called}`;
    }
    case 'tool.started':
      return null;
    case 'tool.completed': {
      const again =
        e.data.attempt > 1
          ? ` (attempt ${e.data.attempt}: resumed after a crash, same idempotency key)`
          : '';
      const edits = e.data.workspaceEdits?.length ?? 0;
      const files = edits === 0 ? '' : `; workspace: ${edits} ${edits === 1 ? 'edit' : 'edits'}`;
      return `${seq}          ${e.data.ok ? '✓' : '✗'} ${e.data.tool}${again}${files}`;
    }
    case 'tool.interrupted':
      return `${seq}          ? ${e.data.tool}: outcome unknown after a crash; not repeated`;
    case 'tool.resumed':
      return `${seq}          ▶ ${e.data.tool}: its wait is over; it runs again, its waits replayed`;
    case 'wait.started':
      return e.data.kind === 'timer'
        ? `${seq}  ⏸ waiting on a durable timer until ${new Date(e.data.untilMs).toISOString()} — holding no worker`
        : `${seq}  ⏸ waiting for signal ${e.data.signal} — holding no worker`;
    case 'wait.resolved':
      return `${seq}  ▶ wait over`;
    case 'workspace.snapshotted':
      return `${seq}  workspace snapshot ${e.data.manifestHash.slice(0, 12)}: ${e.data.files} files, ${e.data.changed} changed`;
    case 'outcome.evaluated': {
      const verdict = e.data.passed
        ? 'passed'
        : e.data.error !== undefined
          ? `could not run (${e.data.error})`
          : `failed ${e.data.criteria.filter((c) => !c.passed).length} of ${e.data.criteria.length} criteria${e.data.continues ? '; the agent works on the feedback' : ''}`;
      const lines = e.data.criteria.map(
        (c) => `\n${indent}${c.passed ? '✓' : '✗'} ${c.criterion}: ${c.reason}`,
      );
      return `${seq}  evaluator (evaluation ${e.data.iteration}): ${verdict}${lines.join('')}`;
    }
    case 'context.compacted':
      return `${seq}  context ${e.data.handoff === undefined ? 'compacted' : 'reset'}: seq ${e.data.fromSeq}–${e.data.throughSeq} (${e.data.messages} messages) replaced by ${replacedBy(e.data)}; ~${e.data.tokensBefore} → ~${e.data.tokensAfter} tokens${e.data.reason === 'refused' ? ' (the provider refused the request as too long)' : ''}`;
    case 'session.completed':
      return `${seq}  session completed${e.data.outcome === undefined ? '' : ` (outcome ${e.data.outcome})`}: ${JSON.stringify(e.data.output)}`;
    case 'session.failed':
      return `${seq}  session failed: ${e.data.code} ${e.data.message}`;
  }
}

/** What stands for the part of the transcript a compaction replaced. */
function replacedBy(data: EventDataByType['context.compacted']): string {
  if (data.handoff !== undefined) return `the task and ${data.handoff.file}`;
  if (data.native !== undefined)
    return `${data.native.provider}'s own compaction (step ${data.native.step})`;
  return 'a summary';
}
