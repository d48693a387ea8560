import { capBudget, type Budget, type BudgetName } from './budget-spec.ts';

/** The budget a session starts with, and the limits of the creation budget that were lowered. */
export interface StartingBudget {
  budget: Budget;
  /** Limits the creation budget set above the agent's own, held to the agent's: `steps`, `toolCallsPerTool.shell`. */
  lowered: BudgetName[];
}

/**
 * The budget a session starts with, from the budget it was created with and its agent's own
 * (docs/budgets.md). One who may raise (an admin key, a keyless server, the CLI) replaces the
 * agent's limits it names. One who may not can only tighten: each limit the agent sets is the
 * lower of the two, and a limit the agent leaves out may be set (a tightening from unlimited).
 * Either way the agent's limits the creation budget leaves out stay.
 */
export function startingBudget(
  own: Budget | undefined,
  created: Budget,
  mayRaise: boolean,
): StartingBudget {
  if (own === undefined) return { budget: created, lowered: [] };
  if (mayRaise) return { budget: mergeOver(own, created), lowered: [] };
  return { budget: capBudget(created, own), lowered: loweredLimits(own, created) };
}

/** `created`'s limits laid over `own`'s, per tool too. */
function mergeOver(own: Budget, created: Budget): Budget {
  const merged: Budget = { ...own, ...created };
  if (own.toolCallsPerTool !== undefined && created.toolCallsPerTool !== undefined) {
    merged.toolCallsPerTool = { ...own.toolCallsPerTool, ...created.toolCallsPerTool };
  }
  return merged;
}

function loweredLimits(own: Budget, created: Budget): BudgetName[] {
  const lowered: BudgetName[] = [];
  for (const [key, limit] of Object.entries(own) as [keyof Budget, unknown][]) {
    if (key === 'toolCallsPerTool') {
      for (const [tool, n] of Object.entries(own.toolCallsPerTool ?? {})) {
        const asked = created.toolCallsPerTool?.[tool];
        if (asked !== undefined && asked > n) lowered.push(`toolCallsPerTool.${tool}`);
      }
    } else {
      const asked = created[key];
      if (asked !== undefined && asked > (limit as number)) lowered.push(key);
    }
  }
  return lowered;
}
