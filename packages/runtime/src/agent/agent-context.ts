import type { ModelClient, ModelToolSpec, SessionStore, Tool } from '@longrun/core';
import type { SessionWriter } from '../session-writer.ts';
import type { RunnerHooks } from '../session-runner.ts';
import type { AgentDefinition } from './define-agent.ts';
import type { TranscriptBuilder } from './transcript-builder.ts';
import type { AgentWorkspace } from './agent-workspace.ts';
import type { Gate } from '../harness/gates.ts';

export interface AgentHooks extends RunnerHooks {
  /** A text delta from the model, the moment it arrives (before it is durable). */
  onTextDelta?(sessionId: string, step: number, attempt: number, text: string): void;
}

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
  hooks: AgentHooks | undefined;
  workspace: AgentWorkspace;
  /** Calls this run started itself (`step:callIndex`); any other started call was interrupted. */
  startedHere: Set<string>;
}
