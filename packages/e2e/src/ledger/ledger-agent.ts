/**
 * The ledger agent: the crash, fault and bench suites' workload, built with the product API. Its
 * scripted model (ledger-script.ts) asks, at every step, for one tool call — a keyed call to an
 * external ledger (`ledger_apply`, which records the call's idempotency key, so a duplicated side
 * effect shows) or an idempotent append to a work file (`work_append`) — and finishes with a text
 * after the input's `steps`. It is deterministic from the transcript, so a run interrupted any
 * number of times must leave the same log as one that never was.
 *
 * What the first milestone's sample program also did and an agent cannot: wait on a timer or on a
 * signal of its own choosing (an agent waits only for approvals, messages and model retries). No
 * suite relied on those waits.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { defineAgent, defineTool, type AgentDefinition } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { FileLedger } from './file-ledger.ts';
import { ledgerToolNames, ledgerTurn, type LedgerCalls } from './ledger-script.ts';

export interface LedgerAgentOptions {
  /** Where the external ledger (`ledger/`), the work file (`work.log`) and workspaces live. */
  dir: string;
  /** Default `ledger`. */
  name?: string;
  /** Default `alternate`. */
  calls?: LedgerCalls;
}

/** The ledger directory the agent's keyed tool applies to. */
export function ledgerOf(dir: string): FileLedger {
  return new FileLedger(join(dir, 'ledger'));
}

const delay = (ms: number): Promise<void> =>
  ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();

export function ledgerAgent(options: LedgerAgentOptions): AgentDefinition {
  const ledger = ledgerOf(options.dir);
  const calls = options.calls ?? 'alternate';
  const tools = [
    defineTool({
      name: ledgerToolNames.keyed,
      description: 'applies an entry to an external ledger that honours idempotency keys',
      input: z.object({ entry: z.string(), delayMs: z.number().default(0) }),
      effect: 'keyed',
      async run({ entry, delayMs }, context) {
        await delay(delayMs);
        ledger.apply(context.idempotencyKey, entry);
        return { entry };
      },
    }),
    defineTool({
      name: ledgerToolNames.idempotent,
      description: 'appends a line to the work file',
      input: z.object({ line: z.string(), delayMs: z.number().default(0) }),
      effect: 'idempotent',
      async run({ line, delayMs }) {
        await delay(delayMs);
        appendFileSync(join(options.dir, 'work.log'), `${line}\n`);
        return { appended: line };
      },
    }),
  ];
  return defineAgent({
    name: options.name ?? 'ledger',
    instructions: 'You are the ledger agent. Follow the script.',
    model: scriptedModel((request) => ledgerTurn(request.messages, calls), {
      id: 'scripted:ledger',
    }),
    tools,
    // The step count is the session's input; the limit is not what these runs test.
    maxSteps: Number.MAX_SAFE_INTEGER,
    workspaceRoot: join(options.dir, 'workspaces'),
  });
}
