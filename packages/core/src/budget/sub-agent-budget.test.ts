import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { chargedSpend, newLedger, reserve, settle, toolCallBreach } from './budget-ledger.ts';
import type { Budget } from './budget-spec.ts';
import { carveSubAgentBudgets, heldSubAgents, heldToolCalls } from './sub-agent-budget.ts';

// The property prints its seed; SUBAGENT_BUDGET_SEED=<n> replays one.
const seed = Number(process.env.SUBAGENT_BUDGET_SEED ?? Math.floor(Math.random() * 2 ** 31));
console.log(`sub-agent budget property: seed ${seed} (SUBAGENT_BUDGET_SEED=${seed} to replay)`);

const spent = (costUsd: number, inputTokens = 0) => ({
  costUsd,
  inputTokens,
  outputTokens: 0,
  cacheTokens: 0,
});

describe('carveSubAgentBudgets', () => {
  it("shares what the parent has left among children that ask nothing, and holds it on the parent's budget", () => {
    let ledger = newLedger({ costUsd: 10, toolCalls: 20, subAgents: 5 });
    ledger = settle(
      reserve(ledger, { reservationId: 'r1', kind: 'step', modelId: 'm', ...spent(4) }),
      'r1',
      spent(4),
    );
    ledger = { ...ledger, toolCalls: 2 };
    const carve = carveSubAgentBudgets(ledger, [undefined, undefined, undefined], 0);
    expect(carve.ok).toBe(true);
    if (!carve.ok) return;
    for (const b of carve.budgets) {
      expect(b.costUsd).toBeCloseTo(2, 10);
      expect(b.toolCalls).toBe(6);
      // 5 allowed, 3 are these children: 2 left for their own, shared in whole units.
      expect(b.subAgents).toBe(0);
    }
    expect(carve.hold).toMatchObject({ toolCalls: 18, children: 3 });
    expect(carve.hold.costUsd).toBeCloseTo(6, 10);
  });

  it('gives a child what it asks when the asks fit, and the rest to the others', () => {
    const ledger = newLedger({ inputTokens: 1_000, outputTokens: 100 });
    const carve = carveSubAgentBudgets(ledger, [{ inputTokens: 700 }, undefined], 0);
    expect(carve.ok && carve.budgets).toEqual([
      { inputTokens: 700, outputTokens: 50 },
      { inputTokens: 300, outputTokens: 50 },
    ]);
  });

  it('refuses asks that do not fit together in what the parent has, naming the limit', () => {
    const ledger = newLedger({ costUsd: 1 });
    const carve = carveSubAgentBudgets(ledger, [{ costUsd: 0.75 }, { costUsd: 0.5 }], 0);
    expect(carve).toMatchObject({ ok: false, limit: 'costUsd' });
    if (!carve.ok) expect(carve.reason).toContain('$1.2500 of costUsd');
  });

  it('refuses more children than the subAgents budget has room for', () => {
    const ledger = { ...newLedger({ subAgents: 3 }), subAgents: 2 };
    expect(carveSubAgentBudgets(ledger, [undefined, undefined], 0)).toMatchObject({
      ok: false,
      limit: 'subAgents',
    });
    expect(carveSubAgentBudgets(ledger, [undefined], 0).ok).toBe(true);
  });

  it('refuses to start children that could not make one call with what is left', () => {
    const ledger = settle(
      reserve(newLedger({ toolCalls: 10, costUsd: 1 }), {
        reservationId: 'r1',
        kind: 'step',
        modelId: 'm',
        ...spent(1),
      }),
      'r1',
      spent(1),
    );
    expect(carveSubAgentBudgets(ledger, [undefined], 0)).toMatchObject({
      ok: false,
      limit: 'costUsd',
    });
  });

  it("gives every child the parent's time left, not a share of it, and passes limits the parent does not set as asked", () => {
    const ledger = newLedger({ wallClockMs: 60_000 });
    const carve = carveSubAgentBudgets(ledger, [{ steps: 5 }, { wallClockMs: 90_000 }], 45_000);
    expect(carve.ok && carve.budgets).toEqual([
      { steps: 5, wallClockMs: 15_000 },
      { wallClockMs: 15_000 },
    ]);
    expect(carveSubAgentBudgets(ledger, [undefined], 60_000)).toMatchObject({
      ok: false,
      limit: 'wallClockMs',
    });
  });

  it('splits per-tool limits, a child left with none of one tool still starting', () => {
    const ledger = {
      ...newLedger({ toolCallsPerTool: { shell: 3 } }),
      toolCallsByTool: { shell: 2 },
    };
    const carve = carveSubAgentBudgets(ledger, [undefined, undefined], 0);
    expect(carve.ok && carve.budgets.map((b) => b.toolCallsPerTool)).toEqual([
      { shell: 0 },
      { shell: 0 },
    ]);
  });

  it('the hold is charged until the children end, then replaced by what they spent, their tool calls and sub-agents included', () => {
    let ledger = newLedger({ costUsd: 10, toolCalls: 10, subAgents: 4 });
    const carve = carveSubAgentBudgets(ledger, [undefined, undefined], 0);
    if (!carve.ok) throw new Error(carve.reason);
    ledger = reserve(ledger, {
      reservationId: 'sub1_0',
      kind: 'subagent',
      modelId: 'run_subagents',
      ...carve.hold,
    });
    expect(chargedSpend(ledger).costUsd).toBeCloseTo(10, 10);
    expect(heldToolCalls(ledger)).toBe(10);
    expect(heldSubAgents(ledger)).toBe(2);
    // While the children run, the parent's own tool calls find no room.
    expect(toolCallBreach(ledger, 'shell')).toMatchObject({ budget: 'toolCalls' });
    ledger = settle(ledger, 'sub1_0', { ...spent(3.5), toolCalls: 4, subAgents: 1 });
    expect(chargedSpend(ledger).costUsd).toBeCloseTo(3.5, 10);
    expect(heldToolCalls(ledger)).toBe(4);
    expect(heldSubAgents(ledger)).toBe(3);
    // Settled once: a second settlement of the same hold changes nothing.
    expect(settle(ledger, 'sub1_0', spent(100))).toBe(ledger);
  });

  it('property: children never get more, together, than the parent has left, nor one more than it asked', () => {
    const limit = fc.option(fc.integer({ min: 0, max: 1_000 }), { nil: undefined });
    const budgetArb = fc.record({ inputTokens: limit, toolCalls: limit, subAgents: limit });
    fc.assert(
      fc.property(
        budgetArb,
        fc.integer({ min: 0, max: 1_000 }),
        fc.array(fc.option(budgetArb, { nil: undefined }), { minLength: 1, maxLength: 8 }),
        (limitsRaw, used, askedRaw) => {
          const clean = (b: Record<string, number | undefined>): Budget =>
            Object.fromEntries(Object.entries(b).filter(([, v]) => v !== undefined));
          const limits = clean(limitsRaw);
          const asked = askedRaw.map((a) => (a === undefined ? undefined : clean(a)));
          const ledger = {
            ...newLedger(limits),
            toolCalls: used,
            spent: spent(0, used),
            subAgents: used % 5,
          };
          const carve = carveSubAgentBudgets(ledger, asked, 0);
          if (!carve.ok) return;
          for (const key of ['inputTokens', 'toolCalls'] as const) {
            const cap = limits[key];
            const given = carve.budgets.reduce((s, b) => s + (b[key] ?? 0), 0);
            if (cap !== undefined) {
              expect(given).toBeLessThanOrEqual(Math.max(0, cap - used));
              expect(carve.hold[key]).toBe(given);
            }
          }
          if (limits.subAgents !== undefined) {
            const given = carve.budgets.reduce((s, b) => s + (b.subAgents ?? 0), 0);
            expect(given + asked.length).toBeLessThanOrEqual(limits.subAgents - (used % 5));
          }
          for (const [i, b] of carve.budgets.entries()) {
            for (const [key, value] of Object.entries(asked[i] ?? {})) {
              expect(b[key as keyof Budget]).toBeLessThanOrEqual(value as number);
            }
          }
        },
      ),
      { seed, numRuns: 500 },
    );
  });
});
