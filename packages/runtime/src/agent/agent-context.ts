import type {
  Budget,
  DailyBudget,
  PolicyLayer,
  SecretStore,
  ModelClient,
  ModelToolSpec,
  SessionStore,
  Tool,
} from '@longrun/core';
import type { SessionWriter } from '../session-writer.ts';
import type { WorkerEvents } from '../worker/worker-events.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { TranscriptBuilder } from './transcript-builder.ts';
import type { AgentWorkspace } from './agent-workspace.ts';
import type { Gate } from '../harness/gates.ts';

/** What the parts of one agent run share. */
export interface AgentRunContext {
  store: SessionStore;
  agent: AgentDefinition;
  model: ModelClient;
  writer: SessionWriter;
  transcript: TranscriptBuilder;
  tools: Map<string, Tool>;
  /** The chain asked before every model call and tool call: `gateChain(agent)`. */
  gates: readonly Gate[];
  specs: ModelToolSpec[];
  signal: AbortSignal;
  /** ToolContext.holding for this run. */
  holding: () => boolean;
  /** Where the run tells what happens (`model.delta`; the writer tells commits). */
  events: WorkerEvents;
  workspace: AgentWorkspace;
  /** The tenant's cap on every session budget (`WorkerOptions.tenantBudgets`), if it has one. */
  tenantBudget?: Budget;
  /** The tenant's daily spend limits (`WorkerOptions.tenantDailyBudgets`), if it has them. */
  tenantDailyBudget?: DailyBudget;
  /** The policy layers the session runs under (tenant, agent; a sub-agent's parent's). */
  policies: readonly PolicyLayer[];
  /** Where `ToolContext.secret` reads credentials (`WorkerOptions.secrets`); absent: none. */
  secrets?: SecretStore;
  /** Calls this run started itself (`step:callIndex`); any other started call was interrupted. */
  startedHere: Set<string>;
  /**
   * Calls whose start went into the commit of the model's answer (`step:callIndex`), with the
   * tool and input checked then: their run need not check them again.
   */
  checkedHere: Map<string, { tool: Tool; input: unknown }>;
}
