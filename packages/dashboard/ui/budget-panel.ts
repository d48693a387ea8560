// The session's budget in its header: one row per limit (used of limit, what is left), and, for a
// session paused for BUDGET_EXCEEDED, a form that raises the budget that stopped it (which resumes
// the session).
import type { BudgetChangeBody, BudgetView, SessionView } from './api-types.ts';
import { h } from './dom.ts';
import { formatCount } from './format.ts';

const usd = (n: number): string => `$${n.toFixed(n < 1 ? 4 : 2)}`;

/**
 * What the session cost: the API's figure when the server has prices, else what its budget has
 * charged (settled calls plus open reservations); null when neither is known.
 */
export function sessionCost(s: Pick<SessionView, 'costUsd' | 'budget'>): number | null {
  return s.costUsd ?? s.budget?.used.costUsd ?? null;
}

/** [term, value, test id] rows for the header's figures; none for a session without a budget. */
export function budgetRows(budget: BudgetView | null | undefined): [string, string, string][] {
  if (!budget) return [];
  const { limits, used, remaining } = budget;
  const rows: [string, string, string][] = [];
  const row = (name: string, usedValue: number, limit: number | undefined, fmt = formatCount) => {
    if (limit === undefined) return;
    const left = remaining[name] ?? Math.max(0, limit - usedValue);
    rows.push([
      `Budget ${name}`,
      `${fmt(usedValue)} of ${fmt(limit)} (${fmt(left)} left)`,
      `budget-${name}`,
    ]);
  };
  row('costUsd', used.costUsd, limits.costUsd, usd);
  row('inputTokens', used.inputTokens, limits.inputTokens);
  row('outputTokens', used.outputTokens, limits.outputTokens);
  row('cacheTokens', used.cacheTokens, limits.cacheTokens);
  row('toolCalls', used.toolCalls, limits.toolCalls);
  for (const [tool, limit] of Object.entries(limits.toolCallsPerTool ?? {})) {
    const name = `toolCallsPerTool.${tool}`;
    rows.push([
      `Budget ${name}`,
      `${formatCount(limit - (remaining[name] ?? 0))} of ${formatCount(limit)}`,
      `budget-${name}`,
    ]);
  }
  row('steps', used.steps, limits.steps);
  if (limits.wallClockMs !== undefined) {
    const leftMs = remaining.wallClockMs ?? 0;
    rows.push([
      'Budget wallClockMs',
      `${Math.round(leftMs / 1000)} s left of ${Math.round(limits.wallClockMs / 1000)} s`,
      'budget-wallClockMs',
    ]);
  }
  if (budget.reservedUsd > 0) rows.push(['Reserved', usd(budget.reservedUsd), 'budget-reserved']);
  return rows;
}

/** The limit a BUDGET_EXCEEDED pause names (`costUsd`, `toolCallsPerTool.shell`), or null. */
export function pausedBudget(statusReason: string | null): string | null {
  const match = /^BUDGET_EXCEEDED: the (\S+) budget of /.exec(statusReason ?? '');
  return match?.[1] ?? null;
}

/** The request body that sets limit `name` to `value`. */
export function budgetChange(name: string, value: number): BudgetChangeBody {
  const [head, tool] = name.split('.');
  if (head === 'toolCallsPerTool' && tool !== undefined)
    return { toolCallsPerTool: { [tool]: value } };
  return { [name]: value };
}

/** Twice the current limit, or a first step up from nothing. */
export function suggestedRaise(budget: BudgetView | null | undefined, name: string): number {
  const [head, tool] = name.split('.');
  const limits = budget?.limits as Record<string, unknown> | undefined;
  const current =
    head === 'toolCallsPerTool' && tool !== undefined
      ? budget?.limits.toolCallsPerTool?.[tool]
      : (limits?.[name] as number | undefined);
  return current === undefined || current === 0 ? 1 : current * 2;
}

/** The raise form: the paused limit, a number, and a button that sends the change. */
export function raiseBudgetForm(
  raise: (change: BudgetChangeBody) => Promise<void>,
  error: HTMLElement,
) {
  const label = h('span', { class: 'muted small' });
  const input = h('input', {
    testid: 'raise-budget-value',
    attrs: { type: 'number', min: '0', step: 'any', 'aria-label': 'new limit' },
  });
  const button = h(
    'button',
    { class: 'primary', testid: 'raise-budget', attrs: { type: 'submit' } },
    'Raise budget',
  );
  const form = h(
    'form',
    { class: 'raise-budget', testid: 'raise-budget-form' },
    label,
    input,
    button,
  );
  let name: string | null = null;
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = Number(input.value);
    if (name === null || input.value === '' || !Number.isFinite(value) || value < 0) {
      error.textContent = 'Give the new limit as a number of 0 or more.';
      return;
    }
    button.disabled = true;
    raise(budgetChange(name, value))
      .catch((e: unknown) => {
        error.textContent = e instanceof Error ? e.message : String(e);
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  return {
    element: form,
    /** Shown only for a session paused for its budget, prefilled with twice that limit. */
    update(budget: BudgetView | null | undefined, statusReason: string | null, paused: boolean) {
      const next = paused ? pausedBudget(statusReason) : null;
      form.hidden = next === null;
      if (next !== null && next !== name) input.value = String(suggestedRaise(budget, next));
      name = next;
      label.textContent = next === null ? '' : `${next}:`;
    },
  };
}
