import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { event, type NewEvent, type StoredEvent } from '../events.ts';
import { fold } from '../fold.ts';
import { sessionId } from '../ids.ts';
import {
  chargedSpend,
  countToolCall,
  modelCallBreach,
  newLedger,
  toolCallBreach,
  reserve,
  settle,
  type BudgetLedger,
  type Spend,
} from './budget-ledger.ts';
import {
  applyBudgetChange,
  capBudget,
  checkBudget,
  checkBudgetChange,
  sameBudget,
} from './budget-spec.ts';

// Every property prints its seed; BUDGET_SEED=<n> replays one.
const seed = Number(process.env.BUDGET_SEED ?? Math.floor(Math.random() * 2 ** 31));
const runs = { seed, numRuns: 300 };
console.log(`budget-ledger properties: seed ${seed} (BUDGET_SEED=${seed} to replay)`);

const spendOfCost = (costUsd: number, tokens: number): Spend => ({
  costUsd,
  inputTokens: tokens,
  outputTokens: 0,
  cacheTokens: 0,
});

/** One model call as the harness makes it: projected spend, real spend as a share of it, fate. */
const callArb = fc.record({
  projectedCost: fc.double({ min: 0.0001, max: 2, noNaN: true }),
  projectedTokens: fc.integer({ min: 1, max: 50_000 }),
  /** Real spend over projected: ≤ 1 when the projection is an upper bound. */
  share: fc.double({ min: 0, max: 1, noNaN: true }),
  /** `settled`: the call answered; `crashed`: the worker died before the settlement. */
  fate: fc.constantFrom('settled', 'settled', 'settled', 'crashed'),
});

/**
 * Runs calls the way the harness does: the orphans a crash left are settled at their projection
 * first, then a call is reserved only when it fits, else the session pauses. Returns the ledger
 * after every call and the largest reservation made.
 */
function runCalls(
  limits: { costUsd: number; inputTokens: number },
  calls: { projectedCost: number; projectedTokens: number; share: number; fate: string }[],
  overshoot: number,
): { ledgers: BudgetLedger[]; maxReservation: Spend; paused: boolean } {
  let ledger = newLedger(limits);
  const ledgers: BudgetLedger[] = [];
  const maxReservation = spendOfCost(0, 0);
  let n = 0;
  for (const call of calls) {
    for (const orphan of ledger.open) ledger = settle(ledger, orphan.reservationId, orphan);
    const projected = spendOfCost(call.projectedCost, call.projectedTokens);
    if (modelCallBreach(ledger, projected, 0) !== null)
      return { ledgers, maxReservation, paused: true };
    const id = `r${++n}`;
    ledger = reserve(ledger, { reservationId: id, kind: 'step', modelId: 'm', ...projected });
    maxReservation.costUsd = Math.max(maxReservation.costUsd, projected.costUsd);
    maxReservation.inputTokens = Math.max(maxReservation.inputTokens, projected.inputTokens);
    if (call.fate === 'settled') {
      const factor = call.share * overshoot;
      ledger = settle(
        ledger,
        id,
        spendOfCost(projected.costUsd * factor, Math.round(projected.inputTokens * factor)),
      );
    }
    ledgers.push(ledger);
  }
  return { ledgers, maxReservation, paused: false };
}

const limitsArb = fc.record({
  costUsd: fc.double({ min: 0, max: 20, noNaN: true }),
  inputTokens: fc.integer({ min: 0, max: 500_000 }),
});

describe('budget math', () => {
  it('never passes a limit while every call spends at most its reservation, crashes included', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(callArb, { maxLength: 80 }), (limits, calls) => {
        const { ledgers } = runCalls(limits, calls, 1);
        for (const ledger of ledgers) {
          const charged = chargedSpend(ledger);
          expect(charged.costUsd).toBeLessThanOrEqual(limits.costUsd + 1e-9);
          expect(charged.inputTokens).toBeLessThanOrEqual(limits.inputTokens);
        }
      }),
      runs,
    );
  });

  it('passes a limit by at most one call’s reservation when a call spends up to twice its reservation', () => {
    fc.assert(
      fc.property(limitsArb, fc.array(callArb, { maxLength: 80 }), (limits, calls) => {
        const { ledgers, maxReservation } = runCalls(limits, calls, 2);
        for (const ledger of ledgers) {
          const charged = chargedSpend(ledger);
          expect(charged.costUsd).toBeLessThanOrEqual(
            limits.costUsd + maxReservation.costUsd + 1e-9,
          );
          expect(charged.inputTokens).toBeLessThanOrEqual(
            limits.inputTokens + maxReservation.inputTokens,
          );
        }
      }),
      runs,
    );
  });

  it('stops a model that loops forever within one call of its budget: not before, not after', () => {
    fc.assert(
      fc.property(
        limitsArb,
        callArb,
        fc.double({ min: 0.5, max: 1, noNaN: true }),
        (limits, call, share) => {
          const forever = Array.from({ length: 5_000 }, () => ({
            ...call,
            share,
            fate: 'settled',
          }));
          const { ledgers, paused } = runCalls(limits, forever, 1);
          const made = ledgers.length;
          // Each call charges at most its projection, so at least this many always fit ...
          const fit = Math.min(
            Math.floor(limits.costUsd / call.projectedCost - 1e-9),
            Math.floor(limits.inputTokens / call.projectedTokens),
          );
          expect(made).toBeGreaterThanOrEqual(Math.max(0, Math.min(fit, forever.length)));
          // ... and each spends at least `share` of its projected cost, so the loop ends by then.
          const bound = Math.ceil(limits.costUsd / (share * call.projectedCost)) + 1;
          if (bound < forever.length) {
            expect(paused).toBe(true);
            expect(made).toBeLessThanOrEqual(bound);
          }
        },
      ),
      { ...runs, numRuns: 100 },
    );
  });
});

function stored(events: NewEvent[]): StoredEvent[] {
  return events.map((e, i) => ({
    ...e,
    sessionId: sessionId('ses_budget'),
    seq: i + 1,
    v: 1,
    atMs: 1_000 + i,
    epoch: 1,
  }));
}

/** A log action: a reservation, its settlement (maybe written twice), or a crash that leaves it open. */
const logArb = fc.array(
  fc.record({
    cost: fc.integer({ min: 1, max: 1_000 }),
    actual: fc.integer({ min: 0, max: 1_000 }),
    fate: fc.constantFrom('settled', 'settled-twice', 'open'),
  }),
  { maxLength: 40 },
);

describe('budget in the fold', () => {
  it('charges each reservation exactly once: its first settlement, or its projection while open', () => {
    fc.assert(
      fc.property(logArb, fc.nat(), (actions, split) => {
        const events: NewEvent[] = [
          event('session.created', { agent: 'a', input: null, budget: { costUsd: 1e9 } }),
        ];
        let expected = 0;
        actions.forEach((a, i) => {
          const reservationId = `r${i}`;
          const amounts = { inputTokens: a.cost, outputTokens: 0, cacheTokens: 0 };
          events.push(
            event('budget.reserved', {
              reservationId,
              kind: 'step',
              step: i + 1,
              attempt: 1,
              modelId: 'm',
              costUsd: a.cost,
              ...amounts,
            }),
          );
          const settled = event('budget.settled', {
            reservationId,
            outcome: 'responded',
            costUsd: a.actual,
            inputTokens: a.actual,
            outputTokens: 0,
            cacheTokens: 0,
          });
          if (a.fate === 'open') expected += a.cost;
          else {
            events.push(settled);
            expected += a.actual;
          }
          // A replayed settlement (a retried append, a second worker) changes nothing.
          if (a.fate === 'settled-twice') events.push(settled);
        });
        const log = stored(events);
        const whole = fold(log);
        // A checkpoint anywhere folds to the same charge (a resumed worker sees what this one saw).
        const at = split % (log.length + 1);
        const resumed = fold(log.slice(at), fold(log.slice(0, at)));
        expect(resumed.budget).toEqual(whole.budget);
        const charged = chargedSpend(whole.budget as BudgetLedger);
        expect(charged.costUsd).toBe(expected);
        expect(charged.inputTokens).toBe(expected);
      }),
      runs,
    );
  });

  it('counts tool calls started, in total and per tool', () => {
    const log = stored([
      event('session.created', { agent: 'a', input: null, budget: { toolCalls: 5 } }),
      event('model.responded', {
        step: 1,
        text: '',
        toolCalls: [
          { callIndex: 0, tool: 'shell', args: {} },
          { callIndex: 1, tool: 'read', args: {} },
        ],
        usage: { inputTokens: 1, outputTokens: 1 },
      }),
      event('tool.started', { step: 1, callIndex: 0, tool: 'shell', effect: 'pure' }),
      event('tool.started', { step: 1, callIndex: 1, tool: 'read', effect: 'pure' }),
    ]);
    const ledger = fold(log).budget as BudgetLedger;
    expect(ledger.toolCalls).toBe(2);
    expect(ledger.toolCallsByTool).toEqual({ shell: 1, read: 1 });
  });
});

describe('budget spec', () => {
  it('refuses what is not a budget with INVALID_ARGUMENT naming the limit', () => {
    expect(() => checkBudget({ costUsd: -1 })).toThrow(/budget.costUsd must be a number ≥ 0/);
    expect(() => checkBudget({ costUsd: 1e300 })).toThrow(
      /budget.costUsd must be at most 9007199254740991 \(2\^53 − 1; got 1e\+300\); leave it out/,
    );
    expect(() => checkBudgetChange({ costUsd: 2 ** 53 })).toThrow(
      /must be at most 9007199254740991/,
    );
    expect(checkBudget({ costUsd: Number.MAX_SAFE_INTEGER }).costUsd).toBe(Number.MAX_SAFE_INTEGER);
    expect(() => checkBudget({ steps: 1.5 })).toThrow(/budget.steps must be an integer/);
    expect(() => checkBudget({ dollars: 5 })).toThrow(/unknown limits dollars/);
    expect(() => checkBudget({ toolCallsPerTool: { shell: 'x' } })).toThrow(
      /toolCallsPerTool.shell/,
    );
    expect(() => checkBudgetChange({})).toThrow(/names no limit/);
    expect(checkBudget({ costUsd: 2.5, toolCallsPerTool: { shell: 3 } })).toEqual({
      costUsd: 2.5,
      toolCallsPerTool: { shell: 3 },
    });
  });

  it('applies a change limit by limit: a number sets, null removes, absent keeps', () => {
    const next = applyBudgetChange(
      { costUsd: 1, steps: 10, toolCallsPerTool: { shell: 1, read: 2 } },
      { costUsd: 5, steps: null, toolCallsPerTool: { shell: null, write: 4 } },
    );
    expect(next).toEqual({ costUsd: 5, toolCallsPerTool: { read: 2, write: 4 } });
  });

  it('caps a budget limit by limit: the lower where both set one, the cap where only it does', () => {
    const capped = capBudget(
      { costUsd: 9, steps: 10, toolCallsPerTool: { shell: 5 } },
      { costUsd: 4, toolCalls: 20, toolCallsPerTool: { shell: 8, read: 2 } },
    );
    expect(capped).toEqual({
      costUsd: 4,
      steps: 10,
      toolCalls: 20,
      toolCallsPerTool: { shell: 5, read: 2 },
    });
    expect(sameBudget(capped, capBudget(capped, { costUsd: 4 }))).toBe(true);
    expect(sameBudget(capped, capBudget(capped, { costUsd: 3 }))).toBe(false);
  });
});

describe('per-tool limits', () => {
  it('hold for tools named like members of Object.prototype, as for any tool', () => {
    for (const tool of ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__']) {
      const budget = checkBudget(JSON.parse(`{"toolCallsPerTool": {"${tool}": 1}}`), 'budget');
      expect(Object.keys(budget.toolCallsPerTool ?? {}), tool).toEqual([tool]);
      let ledger = newLedger(budget);
      expect(toolCallBreach(ledger, tool), tool).toBeNull();
      ledger = countToolCall(ledger, tool);
      expect(toolCallBreach(ledger, tool), tool).toMatchObject({
        budget: `toolCallsPerTool.${tool}`,
        limit: 1,
        used: 1,
      });
      // Another tool is not limited by it, and no limit is read off the prototype.
      expect(toolCallBreach(countToolCall(newLedger({}), tool), tool), tool).toBeNull();
    }
    const changed = applyBudgetChange(
      checkBudget({ toolCallsPerTool: { constructor: 1 } }, 'budget'),
      checkBudgetChange(
        JSON.parse('{"toolCallsPerTool": {"__proto__": 2, "constructor": null}}'),
        'change',
      ),
    );
    expect(changed.toolCallsPerTool).toEqual(JSON.parse('{"__proto__": 2}'));
    expect(Object.getPrototypeOf(changed.toolCallsPerTool)).toBe(Object.prototype);
  });
});
