import { LongrunError } from '../errors.ts';

/**
 * What a session may spend (DESIGN §7). Every limit is optional; a session with none set has no
 * budget. Token limits count what the provider reported (input includes cached input; `cacheTokens`
 * counts cache reads and writes), `costUsd` is at list price (or the provider's own figure),
 * `wallClockMs` runs from the session's creation, `steps` counts model turns.
 */
export interface Budget {
  costUsd?: number;
  inputTokens?: number;
  outputTokens?: number;
  cacheTokens?: number;
  toolCalls?: number;
  toolCallsPerTool?: Record<string, number>;
  wallClockMs?: number;
  steps?: number;
  /** Sub-agent sessions started by the session and, through their carved budgets, by its descendants. */
  subAgents?: number;
}

/** A change to a budget: a number sets a limit, `null` removes it; absent keeps it. */
export type BudgetChange = {
  [K in Exclude<keyof Budget, 'toolCallsPerTool'>]?: Budget[K] | null;
} & {
  /** By tool: a number sets its limit, `null` removes it; `null` for the whole removes them all. */
  toolCallsPerTool?: Record<string, number | null> | null;
};

/** The name of one limit, as a pause reason and the API name it: `costUsd`, `toolCallsPerTool.shell`. */
export type BudgetName = Exclude<keyof Budget, 'toolCallsPerTool'> | `toolCallsPerTool.${string}`;

const integerLimits = [
  'inputTokens',
  'outputTokens',
  'cacheTokens',
  'toolCalls',
  'wallClockMs',
  'steps',
  'subAgents',
] as const;
const budgetKeys = new Set<string>([...integerLimits, 'costUsd', 'toolCallsPerTool']);

function bad(message: string): LongrunError {
  return new LongrunError('INVALID_ARGUMENT', message);
}

function checkLimit(what: string, value: unknown, integer: boolean): number {
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    value >= 0 &&
    (!integer || Number.isSafeInteger(value));
  if (!ok) {
    const kind = integer ? 'an integer' : 'a number';
    throw bad(`${what} must be ${kind} ≥ 0 (got ${JSON.stringify(value)})`);
  }
  // A limit past 2^53 − 1 is no limit a log or a JSON client holds exactly: say so, not "integer".
  if (value > Number.MAX_SAFE_INTEGER) {
    throw bad(
      `${what} must be at most ${Number.MAX_SAFE_INTEGER} (2^53 − 1; got ${value}); leave it out for no limit`,
    );
  }
  return value;
}

function checkPerTool(
  what: string,
  value: unknown,
  nullable: boolean,
): Record<string, number | null> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(`${what}.toolCallsPerTool must be an object of tool name to call count`);
  }
  // Built from entries: a tool named like a member of Object.prototype (`__proto__`,
  // `constructor`) is a key like any other.
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([tool, n]) => {
      if (tool === '' || tool.length > 200)
        throw bad(`${what}.toolCallsPerTool has a bad tool name`);
      return [
        tool,
        nullable && n === null ? null : checkLimit(`${what}.toolCallsPerTool.${tool}`, n, true),
      ];
    }),
  );
}

function checkObject(what: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(`${what} must be an object such as { "costUsd": 5, "steps": 200 }`);
  }
  const unknown = Object.keys(value).filter((k) => !budgetKeys.has(k));
  if (unknown.length > 0) {
    throw bad(
      `${what} has unknown limits ${unknown.join(', ')}; known: ${[...budgetKeys].join(', ')}`,
    );
  }
  return value as Record<string, unknown>;
}

/** Checks a budget from outside (API body, agent option, CLI flags); INVALID_ARGUMENT names what is wrong. */
export function checkBudget(value: unknown, what = 'budget'): Budget {
  const input = checkObject(what, value);
  const budget: Budget = {};
  if (input.costUsd !== undefined)
    budget.costUsd = checkLimit(`${what}.costUsd`, input.costUsd, false);
  for (const key of integerLimits) {
    if (input[key] !== undefined) budget[key] = checkLimit(`${what}.${key}`, input[key], true);
  }
  if (input.toolCallsPerTool !== undefined) {
    budget.toolCallsPerTool = checkPerTool(what, input.toolCallsPerTool, false) as Record<
      string,
      number
    >;
  }
  return budget;
}

/** Checks a change (a raise, or a limit removed with `null`); an empty change is refused. */
export function checkBudgetChange(value: unknown, what = 'budget'): BudgetChange {
  const input = checkObject(what, value);
  if (Object.keys(input).length === 0) throw bad(`${what} names no limit to change`);
  const change: BudgetChange = {};
  if (input.costUsd !== undefined) {
    change.costUsd =
      input.costUsd === null ? null : checkLimit(`${what}.costUsd`, input.costUsd, false);
  }
  for (const key of integerLimits) {
    const v = input[key];
    if (v !== undefined) change[key] = v === null ? null : checkLimit(`${what}.${key}`, v, true);
  }
  if (input.toolCallsPerTool !== undefined) {
    change.toolCallsPerTool =
      input.toolCallsPerTool === null ? null : checkPerTool(what, input.toolCallsPerTool, true);
  }
  return change;
}

/** `current` with `change` applied (per tool too: a tool's `null` removes its limit). */
export function applyBudgetChange(current: Budget, change: BudgetChange): Budget {
  const next: Record<string, unknown> = { ...current };
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) continue;
    if (value === null) {
      delete next[key];
    } else if (key === 'toolCallsPerTool') {
      const tools = new Map(Object.entries(current.toolCallsPerTool ?? {}));
      for (const [tool, n] of Object.entries(value as Record<string, number | null>)) {
        if (n === null) tools.delete(tool);
        else tools.set(tool, n);
      }
      if (tools.size === 0) delete next.toolCallsPerTool;
      else next.toolCallsPerTool = Object.fromEntries(tools);
    } else {
      next[key] = value;
    }
  }
  return next;
}

/** Whether a budget sets any limit. */
export function hasLimits(budget: Budget | null | undefined): budget is Budget {
  return budget !== null && budget !== undefined && Object.keys(budget).length > 0;
}

/**
 * `budget` bounded by `cap` (a tenant's), limit by limit: the lower of the two where both set
 * one, the cap's where only it does. A session can never be given more than its tenant allows.
 */
export function capBudget(budget: Budget, cap: Budget): Budget {
  const out: Record<string, unknown> = { ...budget };
  for (const [key, limit] of Object.entries(cap) as [keyof Budget, unknown][]) {
    if (key === 'toolCallsPerTool') {
      const tools: Record<string, number> = { ...budget.toolCallsPerTool };
      for (const [tool, n] of Object.entries(cap.toolCallsPerTool ?? {})) {
        tools[tool] = Math.min(tools[tool] ?? n, n);
      }
      out.toolCallsPerTool = tools;
    } else {
      const own = budget[key];
      out[key] = own === undefined ? limit : Math.min(own, limit as number);
    }
  }
  return out;
}

/** Whether two budgets set the same limits. */
export function sameBudget(a: Budget, b: Budget): boolean {
  const norm = (x: Budget): string => {
    const { toolCallsPerTool = {}, ...limits } = x;
    const sorted = (o: Record<string, number>): [string, number][] =>
      Object.entries(o).sort(([p], [q]) => (p < q ? -1 : p > q ? 1 : 0));
    return JSON.stringify([sorted(limits), sorted(toolCallsPerTool)]);
  };
  return norm(a) === norm(b);
}
