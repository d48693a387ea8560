import { readToolResultTool } from '../tools/tool-results.ts';
import { readToolResultName } from '../tools/tool-results-config.ts';
import {
  LongrunError,
  errorCodes,
  isRuntimeSignal,
  type ErrorCode,
  type EventDataByType,
  type JsonValue,
  type StoredEvent,
  type Tool,
} from '@longrun/core';
import type { AgentDefinition } from '../agent/define-agent.ts';
import { ReplayModel } from './replay-model.ts';

type Completed = EventDataByType['tool.completed'];

/** Each call's recorded result by `step:callIndex` (the last one, should there be several). */
function recordedResults(events: readonly StoredEvent[]): Map<string, Completed> {
  const results = new Map<string, Completed>();
  for (const e of events) {
    if (e.type === 'tool.completed') results.set(`${e.data.step}:${e.data.callIndex}`, e.data);
  }
  return results;
}

/** A wait a call's code made in the recording, with how long it was set to last. */
interface RecordedWait {
  ordinal: number;
  kind: 'timer' | 'signal';
  signal: string | null;
  durationMs: number | null;
}

/** The waits each call made, by `step:callIndex`, in ordinal order (each ordinal once). */
function recordedWaits(events: readonly StoredEvent[]): Map<string, RecordedWait[]> {
  const waits = new Map<string, RecordedWait[]>();
  for (const e of events) {
    if (e.type !== 'wait.started' || e.data.call === undefined) continue;
    const { step, callIndex, ordinal } = e.data.call;
    const list = waits.get(`${step}:${callIndex}`) ?? [];
    if (list.some((w) => w.ordinal === ordinal)) continue;
    list.push({
      ordinal,
      kind: e.data.kind,
      signal: e.data.kind === 'signal' ? e.data.signal : null,
      durationMs: e.data.untilMs === undefined ? null : Math.max(0, e.data.untilMs - e.atMs),
    });
    waits.set(
      `${step}:${callIndex}`,
      list.sort((a, b) => a.ordinal - b.ordinal),
    );
  }
  return waits;
}

/**
 * A tool's recorded failure thrown again, so the harness writes the same result: the harness
 * words a failure `tool <name> failed[ (<code>)]: <message>`, and the message is taken back out.
 */
function recordedFailure(tool: string, result: Completed): Error {
  const text = typeof result.output === 'string' ? result.output : JSON.stringify(result.output);
  const prefix = `tool ${tool} failed${result.errorCode === undefined ? '' : ` (${result.errorCode})`}: `;
  const message = text.startsWith(prefix) ? text.slice(prefix.length) : text;
  const code = result.errorCode;
  return code !== undefined && code in errorCodes
    ? new LongrunError(code as ErrorCode, message)
    : new Error(message);
}

/** `read_tool_result` as the agent had it: only its name, schema and effect matter in a replay. */
function recordedPager(agent: AgentDefinition): Tool {
  const config = agent.toolResults === false ? undefined : agent.toolResults;
  const none = async (): Promise<never> => {
    throw new Error('replay: a kept output is never read, the recording answers');
  };
  return readToolResultTool({
    blobs: { kind: 'replay', put: none, get: none, missing: none },
    state: () => {
      throw new Error('replay: the pager is never run');
    },
    config,
  });
}

/** The tool, not run: it returns (or throws) what the recording says this call returned. */
function replayTool(
  tool: Tool,
  results: Map<string, Completed>,
  waits: Map<string, RecordedWait[]>,
): Tool {
  const replayed: Tool = {
    ...tool,
    async run(_input, context): Promise<JsonValue> {
      // The durable waits the call's code made are made again, in order and for as long (a
      // replay's clock skips timers): the harness records them as it did, and the replay feeds
      // each signal from the recording when the session waits for it.
      for (const wait of waits.get(`${context.step}:${context.callIndex}`) ?? []) {
        if (wait.kind === 'timer') await context.sleep(wait.durationMs ?? 0);
        else if (wait.signal !== null && !isRuntimeSignal(wait.signal))
          await context.waitForSignal(
            wait.signal,
            wait.durationMs === null ? {} : { timeoutMs: wait.durationMs },
          );
      }
      const result = results.get(`${context.step}:${context.callIndex}`);
      if (result === undefined) {
        throw new Error(
          `replay: the recording has no result for call ${context.callIndex} of step ${context.step}`,
        );
      }
      if (!result.ok) throw recordedFailure(tool.name, result);
      return result.output;
    },
  };
  // Never asked: a replayed call is never interrupted.
  delete (replayed as { verify?: unknown }).verify;
  return replayed;
}

/**
 * The agent as a replay runs it: its harness configuration (instructions, tools' schemas, effect
 * classes and approvals, policy, gates, budget, loop control, prepareStep) as the module defines
 * it now, with the recording in place of everything that reaches outside the process: the model
 * answers what it answered, each tool returns what it returned, nothing is run in a sandbox, and
 * the workspace is a temporary directory that is never snapshotted.
 */
export function replayAgent(
  agent: AgentDefinition,
  events: readonly StoredEvent[],
  workspaceRoot: string,
  model: ReplayModel,
): AgentDefinition {
  const results = recordedResults(events);
  const waits = recordedWaits(events);
  const { sandbox: _sandbox, blobs: _blobs, outcome, context, ...rest } = agent;
  return {
    ...rest,
    model,
    // Models of their own (an evaluator's, a summarizer's) are the replay model too: no network.
    ...(outcome === undefined ? {} : { outcome: { ...outcome, model } }),
    ...(context === undefined ? {} : { context: { ...context, summaryModel: model } }),
    tools: [
      ...agent.tools.map((t) => replayTool(t, results, waits)),
      // The pager of kept outputs answers from the recording too (its blobs are not in a bundle).
      ...(agent.tools.some((t) => t.name === readToolResultName) ||
      !events.some((e) => e.type === 'tool.completed' && e.data.tool === readToolResultName)
        ? []
        : [replayTool(recordedPager(agent), results, waits)]),
    ],
    // A recorded output kept in the blob store comes back as the view the log holds: kept whole.
    toolResults: false,
    workspaceRoot,
    workspaceSnapshots: false,
    ...(agent.prepareStep === undefined
      ? {}
      : {
          // Its choice of another model is ignored: the recording answers every call.
          prepareStep: async (input) => {
            const { model: _model, ...prepared } = (await agent.prepareStep?.(input)) ?? {};
            return prepared;
          },
        }),
  };
}
