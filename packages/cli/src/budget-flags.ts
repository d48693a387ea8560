import {
  checkBudget,
  checkBudgetChange,
  chargedSpend,
  isLongrunError,
  type Budget,
  type BudgetChange,
  type SessionState,
} from '@longrun/core';
import { UsageError } from './args.ts';

/** The flags that name budget limits, for parseFlags: `--cost-usd 5 --steps 200 --tool shell=20`. */
export const budgetFlagOptions = {
  'cost-usd': { type: 'string' },
  'input-tokens': { type: 'string' },
  'output-tokens': { type: 'string' },
  'cache-tokens': { type: 'string' },
  'tool-calls': { type: 'string' },
  'wall-clock-ms': { type: 'string' },
  steps: { type: 'string' },
  'sub-agents': { type: 'string' },
  tool: { type: 'string', multiple: true },
} as const;

const limitByFlag = {
  'cost-usd': 'costUsd',
  'input-tokens': 'inputTokens',
  'output-tokens': 'outputTokens',
  'cache-tokens': 'cacheTokens',
  'tool-calls': 'toolCalls',
  'wall-clock-ms': 'wallClockMs',
  steps: 'steps',
  'sub-agents': 'subAgents',
} as const;

type BudgetFlags = { [K in keyof typeof limitByFlag]?: string } & { tool?: string[] };

/** `none` removes a limit (in a change); anything else must be a number. */
function limitValue(flag: string, value: string, removable: boolean): number | null {
  if (removable && value === 'none') return null;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new UsageError(
      `--${flag} must be a number${removable ? ' or none' : ''} (got ${JSON.stringify(value)})`,
    );
  }
  return n;
}

function collect(flags: BudgetFlags, removable: boolean): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const [flag, limit] of Object.entries(limitByFlag)) {
    const value = flags[flag as keyof typeof limitByFlag];
    if (value !== undefined) out[limit] = limitValue(flag, value, removable);
  }
  for (const spec of flags.tool ?? []) {
    const [name, value] = spec.split('=');
    if (!name || value === undefined)
      throw new UsageError(`--tool must be NAME=N (got ${JSON.stringify(spec)})`);
    const perTool = (out.toolCallsPerTool ?? {}) as Record<string, unknown>;
    perTool[name] = limitValue(`tool ${name}`, value, removable);
    out.toolCallsPerTool = perTool;
  }
  return Object.keys(out).length === 0 ? null : out;
}

function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (isLongrunError(error, 'INVALID_ARGUMENT')) throw new UsageError(error.message);
    throw error;
  }
}

/** The budget the flags name, or undefined when they name none. */
export function budgetFromFlags(flags: BudgetFlags): Budget | undefined {
  const raw = collect(flags, false);
  return raw === null ? undefined : asUsage(() => checkBudget(raw));
}

/** The change the flags name (`none` removes a limit); a UsageError when they name none. */
export function budgetChangeFromFlags(flags: BudgetFlags): BudgetChange {
  const raw = collect(flags, true);
  if (raw === null)
    throw new UsageError('name a limit to change, e.g. --cost-usd 5 or --steps 200');
  return asUsage(() => checkBudgetChange(raw));
}

/** One line per limit set: used (settled plus reserved) of the limit, and what remains. */
export function budgetLines(state: SessionState): string[] {
  const ledger = state.budget;
  if (!ledger) return [];
  const charged = chargedSpend(ledger);
  const { limits } = ledger;
  const line = (
    name: string,
    used: number,
    limit: number | undefined,
    fmt: (n: number) => string = String,
  ) =>
    limit === undefined
      ? []
      : [
          `  ${name.padEnd(22)} ${fmt(used)} of ${fmt(limit)}  (${fmt(Math.max(0, limit - used))} left)`,
        ];
  const usd = (n: number) => `$${n.toFixed(4)}`;
  return [
    'budget:',
    ...line('costUsd', charged.costUsd, limits.costUsd, usd),
    ...line('inputTokens', charged.inputTokens, limits.inputTokens),
    ...line('outputTokens', charged.outputTokens, limits.outputTokens),
    ...line('cacheTokens', charged.cacheTokens, limits.cacheTokens),
    ...line('toolCalls', ledger.toolCalls, limits.toolCalls),
    ...Object.entries(limits.toolCallsPerTool ?? {}).flatMap(([tool, limit]) =>
      line(`toolCallsPerTool.${tool}`, ledger.toolCallsByTool[tool] ?? 0, limit),
    ),
    ...line('steps', state.steps, limits.steps),
    ...line('subAgents', ledger.subAgents ?? 0, limits.subAgents),
    ...(limits.wallClockMs === undefined
      ? []
      : [`  ${'wallClockMs'.padEnd(22)} limit ${limits.wallClockMs} ms from creation`]),
    ...(ledger.open.length === 0
      ? []
      : [
          `  reserved (open)        ${usd(ledger.open.reduce((s, r) => s + r.costUsd, 0))} in ${ledger.open.length} call(s)`,
        ]),
  ];
}
