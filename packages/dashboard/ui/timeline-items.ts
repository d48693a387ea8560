// One renderer per timeline item kind. Each returns a fresh element; timeline-view decides when.
import type { ApprovalDetail, JsonValue } from './api-types.ts';
import { shownArguments } from './approval-args.ts';
import { h } from './dom.ts';
import { formatBytes, formatCount, formatTime, jsonPreview, prettyJson } from './format.ts';
import type {
  ApprovalItem,
  EndItem,
  EvaluationItem,
  CompactionItem,
  GateItem,
  ModelItem,
  ResumeItem,
  SessionResumedItem,
  SnapshotItem,
  TimelineItem,
  ToolItem,
  UserItem,
  WaitItem,
} from './timeline-types.ts';

/** How far an approval reaches (core's ApprovalScope): this call, these arguments, this tool. */
export type DecisionScope = 'call' | 'arguments' | 'tool';

export interface ItemActions {
  decide(
    approvalId: string,
    decision: 'approve' | 'deny',
    reason: string | null,
    scope: DecisionScope,
  ): Promise<void>;
  /** The approval with its whole arguments, for a person to read before deciding. */
  loadArguments(approvalId: string): Promise<ApprovalDetail>;
  filesHref: string;
  /** When the item happened and how long it took ("+1.20 s · took 340 ms"), if known. */
  timing?: (item: TimelineItem) => string | null;
}

export function renderItem(item: TimelineItem, actions: ItemActions): HTMLElement {
  const el = renderKind(item, actions);
  const timing = actions.timing?.(item) ?? null;
  if (timing !== null) {
    const span = h('span', { class: 'item-timing', testid: 'item-timing' }, timing);
    const meta = el.querySelector('.item-meta');
    if (meta === null) el.append(span);
    else meta.append(meta.textContent === '' ? '' : ' · ', span);
  }
  return el;
}

function renderKind(item: TimelineItem, actions: ItemActions): HTMLElement {
  switch (item.kind) {
    case 'user':
      return renderUser(item);
    case 'model':
      return renderModel(item);
    case 'tool':
      return renderTool(item);
    case 'approval':
      return renderApproval(item, actions);
    case 'wait':
      return renderWait(item);
    case 'snapshot':
      return renderSnapshot(item, actions.filesHref);
    case 'resume':
      return renderResume(item);
    case 'session-resumed':
      return renderSessionResumed(item);
    case 'gate':
      return renderGate(item);
    case 'evaluation':
      return renderEvaluation(item);
    case 'compaction':
      return renderCompaction(item);
    case 'end':
      return renderEnd(item);
  }
}

function meta(...parts: (string | null)[]): HTMLElement {
  return h('span', { class: 'item-meta' }, parts.filter((p) => p !== null).join(' · '));
}

function at(item: TimelineItem): string | null {
  return item.atMs === null ? null : formatTime(item.atMs);
}

function card(item: TimelineItem, testid: string, ...children: (Node | null)[]): HTMLElement {
  return h(
    'li',
    { class: `item item-${item.kind}`, testid, attrs: { 'data-key': item.key } },
    ...children,
  );
}

function renderUser(item: UserItem): HTMLElement {
  return card(
    item,
    'user-message',
    h('header', {}, h('strong', {}, item.initial ? 'Task' : 'Message'), meta(at(item))),
    h('p', { class: 'user-text' }, item.text),
  );
}

/** The model item's element; its text is updated in place by `updateModelText`. */
function renderModel(item: ModelItem): HTMLElement {
  const el = card(
    item,
    'model-turn',
    h(
      'header',
      {},
      h('strong', {}, 'Model'),
      h('span', { class: `badge model-${item.state}`, testid: 'model-state' }, item.state),
      meta(
        `step ${item.step}`,
        item.attempt > 1 ? `attempt ${item.attempt}` : null,
        item.modelId,
        item.usage === null
          ? null
          : `${formatCount(item.usage.inputTokens)} in / ${formatCount(item.usage.outputTokens)} out`,
        at(item),
      ),
    ),
    h('div', {
      class: 'model-text',
      testid: 'model-text',
      attrs: { 'aria-live': item.state === 'streaming' ? 'polite' : 'off' },
    }),
    item.failure === null ? null : renderFailure(item.failure),
    item.state === 'superseded'
      ? h('p', { class: 'muted small' }, 'Superseded: this text is not part of the transcript.')
      : null,
  );
  el.dataset.step = String(item.step);
  el.dataset.attempt = String(item.attempt);
  el.dataset.state = item.state;
  updateModelText(el, item);
  return el;
}

export function updateModelText(el: HTMLElement, item: ModelItem): void {
  const text = el.querySelector<HTMLElement>('[data-testid="model-text"]');
  if (text !== null && text.textContent !== item.text) text.textContent = item.text;
  text?.classList.toggle('streaming', item.state === 'streaming');
}

function renderFailure(failure: NonNullable<ModelItem['failure']>): HTMLElement {
  const retry =
    failure.retryInMs === null
      ? 'not retried'
      : failure.retryInMs === 0
        ? 'retried at once'
        : `retry in ${(failure.retryInMs / 1000).toFixed(1)} s`;
  return h(
    'p',
    { class: 'item-error', testid: 'model-failure' },
    h('code', {}, failure.code),
    ` ${failure.message} — ${retry}`,
  );
}

function renderTool(item: ToolItem): HTMLElement {
  const stateLabel = item.state === 'completed' ? (item.ok === true ? 'ok' : 'error') : item.state;
  const el = card(
    item,
    'tool-call',
    h(
      'header',
      {},
      h('strong', {}, '→ ', h('code', {}, item.tool)),
      h('span', { class: `badge tool-${stateLabel}` }, stateLabel),
      meta(
        `step ${item.step}`,
        `call ${item.callIndex}`,
        item.attempt > 1 ? `ran ${item.attempt}×` : null,
        at(item),
      ),
    ),
    jsonBlock('Arguments', item.args, 'args'),
    item.state === 'completed' ? jsonBlock('Result', item.output, 'output') : null,
    item.state === 'interrupted'
      ? h(
          'p',
          { class: 'item-error' },
          'Interrupted: the worker stopped while this call ran; its outcome is unknown.',
        )
      : null,
  );
  el.dataset.state = item.state;
  return el;
}

/** A collapsible JSON value: a one-line preview, the pretty form on demand. */
export function jsonBlock(label: string, value: JsonValue, part: string): HTMLElement {
  return h(
    'details',
    { class: 'json', attrs: { 'data-part': part } },
    h(
      'summary',
      {},
      h('span', { class: 'json-label' }, label),
      ' ',
      h('code', {}, jsonPreview(value)),
    ),
    h('pre', {}, prettyJson(value)),
  );
}

function renderApproval(item: ApprovalItem, actions: ItemActions): HTMLElement {
  const args =
    item.args === null || item.argumentsExtent === null
      ? null
      : shownArguments(item.args, item.argumentsExtent, () =>
          actions.loadArguments(item.approvalId),
        );
  const el = card(
    item,
    'approval',
    h(
      'header',
      {},
      h(
        'strong',
        {},
        'Approval · ',
        item.tool === null ? `the model call of step ${item.step}` : h('code', {}, item.tool),
      ),
      h('span', { class: `badge approval-${item.state}` }, item.state),
      meta(
        `step ${item.step}`,
        at(item),
        item.expiresAtMs === null ? null : `expires ${formatTime(item.expiresAtMs)}`,
      ),
    ),
    args?.element ?? null,
    item.question === null
      ? null
      : h(
          'p',
          { testid: 'approval-question' },
          `Gate ${item.question.gate} asks: ${item.question.reason}`,
        ),
    item.state === 'requested'
      ? decisionButtons(item.approvalId, actions, item.tool, args?.wholeShown ?? null)
      : h(
          'p',
          { class: 'muted' },
          `${item.state === 'granted' ? 'Approved' : 'Denied'} by ${item.by ?? 'unknown'}${item.reason === null ? '' : `: ${item.reason}`}`,
        ),
  );
  el.dataset.approvalId = item.approvalId;
  el.dataset.state = item.state;
  return el;
}

/**
 * Approve / Deny buttons that call the API and show its refusal, if any. For a tool call (`tool`
 * not null), a choice of how far an approval reaches: this call (the default), this tool with
 * these arguments for the session, or this tool for the session. With `wholeShown`, Approve
 * stays disabled until it settles: nobody approves arguments they were not shown all of.
 */
export function decisionButtons(
  approvalId: string,
  actions: Pick<ItemActions, 'decide'>,
  tool: string | null,
  wholeShown: Promise<void> | null = null,
): HTMLElement {
  const status = h('span', { class: 'decision-status', attrs: { role: 'status' } });
  const reasonId = `reason-${approvalId}`;
  const reason = h('input', { attrs: { id: reasonId, type: 'text', placeholder: 'optional' } });
  const scopeId = `scope-${approvalId}`;
  const scope =
    tool === null
      ? null
      : h(
          'select',
          { testid: 'approval-scope', attrs: { id: scopeId } },
          h('option', { attrs: { value: 'call' } }, 'this call only'),
          h(
            'option',
            { attrs: { value: 'arguments' } },
            `${tool} with these arguments, this session`,
          ),
          h('option', { attrs: { value: 'tool' } }, `every ${tool} call, this session`),
        );
  const buttons: HTMLButtonElement[] = [];
  let approvable = wholeShown === null;
  let deciding = false;
  const enable = () => {
    for (const b of buttons)
      b.disabled = deciding || (b.dataset.testid === 'approve' && !approvable);
  };
  const held =
    wholeShown === null
      ? null
      : h(
          'span',
          { class: 'small approve-held', testid: 'approve-held' },
          'Approve is enabled once all the arguments are shown.',
        );
  void wholeShown?.then(() => {
    approvable = true;
    held?.remove();
    enable();
  });
  const decide = (decision: 'approve' | 'deny') => {
    deciding = true;
    enable();
    status.textContent = decision === 'approve' ? 'Approving…' : 'Denying…';
    const why = reason.value.trim();
    const reach = (scope?.value ?? 'call') as DecisionScope;
    actions.decide(approvalId, decision, why === '' ? null : why, reach).then(
      () => {
        status.textContent = decision === 'approve' ? 'Approved; the session resumes.' : 'Denied.';
      },
      (error: unknown) => {
        deciding = false;
        enable();
        status.textContent = error instanceof Error ? error.message : String(error);
      },
    );
  };
  buttons.push(
    h(
      'button',
      {
        class: 'approve',
        testid: 'approve',
        attrs: { type: 'button' },
        on: { click: () => decide('approve') },
      },
      'Approve',
    ),
    h(
      'button',
      {
        class: 'deny',
        testid: 'deny',
        attrs: { type: 'button' },
        on: { click: () => decide('deny') },
      },
      'Deny',
    ),
  );
  enable();
  return h(
    'div',
    { class: 'decision' },
    ...buttons,
    held,
    scope === null ? null : h('label', { class: 'small', attrs: { for: scopeId } }, 'Approve for'),
    scope,
    h('label', { class: 'small', attrs: { for: reasonId } }, 'Reason'),
    reason,
    status,
  );
}

function renderWait(item: WaitItem): HTMLElement {
  const what =
    item.waitKind === 'timer'
      ? `until ${item.untilMs === null ? '?' : formatTime(item.untilMs)}`
      : `for ${item.signal ?? 'a signal'}`;
  return card(
    item,
    'wait',
    h(
      'p',
      { class: 'muted' },
      h('strong', {}, 'Waiting'),
      ` ${what}${item.resolved ? ' — resolved' : ''} `,
      meta(at(item)),
    ),
  );
}

function renderSnapshot(item: SnapshotItem, filesHref: string): HTMLElement {
  return card(
    item,
    'snapshot',
    h(
      'p',
      { class: 'muted' },
      h('strong', {}, 'Workspace'),
      ` snapshot after step ${item.step}: ${item.files} files, ${formatBytes(item.bytes)}, ${item.changed} changed · `,
      h('a', { attrs: { href: filesHref } }, 'view files'),
      ' ',
      meta(at(item)),
    ),
  );
}

function renderResume(item: ResumeItem): HTMLElement {
  return card(
    item,
    'resume-marker',
    h(
      'p',
      { class: 'resume' },
      h('strong', {}, '⟳ Resumed by another worker'),
      ` — the previous worker stopped mid-step; lease epoch ${item.fromEpoch} → ${item.toEpoch}`,
      ' ',
      meta(at(item)),
    ),
  );
}

function renderSessionResumed(item: SessionResumedItem): HTMLElement {
  return card(
    item,
    'session-resumed',
    h(
      'p',
      { class: 'muted' },
      h('strong', {}, '▶ Resumed'),
      ` by ${item.by}${item.reason === null ? '' : `: ${item.reason}`} — it had been paused `,
      meta(at(item)),
    ),
  );
}

function renderCompaction(item: CompactionItem): HTMLElement {
  const why =
    item.reason === 'refused' ? ' after the provider refused the request as too long' : '';
  return card(
    item,
    'context-compacted',
    h(
      'p',
      { class: 'muted' },
      h('strong', {}, '⇢ Context compacted'),
      ` — events ${item.fromSeq}–${item.throughSeq} (${item.messages} messages) replaced by a summary${why}; ~${item.tokensBefore} → ~${item.tokensAfter} tokens `,
      meta(at(item)),
    ),
    h('details', {}, h('summary', {}, 'Summary'), h('pre', { class: 'output' }, item.summary)),
  );
}

const gateVerbs = {
  deny: 'denied',
  ask: 'asked a person about',
  pause: 'paused the session before',
};

function renderGate(item: GateItem): HTMLElement {
  const call =
    item.point === 'model.call'
      ? `the model call of step ${item.step}`
      : `tool call ${item.callIndex ?? '?'} of step ${item.step}`;
  const el = card(
    item,
    'gate-decision',
    h(
      'p',
      {},
      h('strong', {}, `⛔ Gate ${item.gate}`),
      ` ${gateVerbs[item.decision]} ${call}: `,
      h('span', { testid: 'gate-reason' }, item.reason),
      ' ',
      meta(at(item)),
    ),
  );
  el.classList.add(`gate-${item.decision}`);
  return el;
}

function renderEvaluation(item: EvaluationItem): HTMLElement {
  const failed = item.criteria.filter((c) => !c.passed).length;
  const verdict = item.passed
    ? 'passed'
    : item.error !== null
      ? `could not run: ${item.error}`
      : `failed ${failed} of ${item.criteria.length} criteria${item.continues ? ' — the agent works on the feedback' : ''}`;
  const el = card(
    item,
    'evaluation',
    h(
      'header',
      {},
      h('strong', {}, `${item.passed ? '✓' : '✗'} Evaluator (evaluation ${item.iteration})`),
      ' ',
      h('span', { testid: 'evaluation-verdict' }, verdict),
      ' ',
      meta(`answer of step ${item.step}`, at(item)),
    ),
    h(
      'ul',
      { class: 'criteria' },
      ...item.criteria.map((c) =>
        h(
          'li',
          { class: c.passed ? 'criterion-passed' : 'criterion-failed', testid: 'criterion' },
          `${c.passed ? '✓' : '✗'} ${c.criterion}: `,
          h('span', { class: 'criterion-reason' }, c.reason),
        ),
      ),
    ),
  );
  el.classList.add(item.passed ? 'evaluation-passed' : 'evaluation-failed');
  return el;
}

function renderEnd(item: EndItem): HTMLElement {
  const title = { completed: '✓ Completed', failed: '✗ Failed', cancelled: '■ Cancelled' }[
    item.outcome
  ];
  const detail =
    item.outcome === 'completed'
      ? jsonBlock('Output', item.output, 'end-output')
      : h(
          'p',
          {},
          item.code === null ? null : h('code', {}, item.code),
          ` ${item.message ?? ''}${item.by === null ? '' : ` (by ${item.by})`}`,
        );
  const el = card(
    item,
    'session-end',
    h(
      'header',
      {},
      h('strong', {}, title),
      item.evaluatedOutcome === null
        ? null
        : h('span', { testid: 'end-outcome' }, ` · outcome ${item.evaluatedOutcome}`),
      meta(at(item)),
    ),
    detail,
  );
  el.classList.add(`end-${item.outcome}`);
  return el;
}
