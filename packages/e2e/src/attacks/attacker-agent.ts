import { appendFileSync } from 'node:fs';
import type { ModelRequest } from '@longrun/core';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { defineAgent, fileTools, shellTool, type AgentDefinition } from '@longrun/runtime';
import { parsePlanTask } from './attack-plan.ts';

/** The typed codes a refused tool call showed the model (`tool read_file failed (CODE): …`). */
function codesSeen(request: ModelRequest): string[] {
  const codes: string[] = [];
  for (const message of request.messages) {
    if (message.role !== 'tool') continue;
    for (const result of message.results) {
      const output = typeof result.output === 'string' ? result.output : '';
      const code = /^tool \S+ failed \(([A-Z_]+)\)/.exec(output)?.[1];
      codes.push(`${result.name}:${code ?? (result.isError ? 'error' : 'ok')}`);
    }
  }
  return codes;
}

/**
 * Every prompt the model gets, appended as a JSON line to LONGRUN_ATTACK_PROMPT_LOG when a test
 * sets it (the canary scan reads what was sent to the model too). This module runs in the worker.
 */
function recordPrompt(request: ModelRequest): void {
  const log = process.env.LONGRUN_ATTACK_PROMPT_LOG;
  if (log === undefined || log === '') return;
  appendFileSync(log, `${JSON.stringify({ messages: request.messages, tools: request.tools })}\n`);
}

/**
 * A prompt-injected agent: it obeys the attack plan in its task, one scripted answer per turn,
 * whatever the tools answer, and ends by saying what it saw (so a test can tell that the model,
 * not only the log, got each refusal with its code).
 */
function attacker(request: ModelRequest): ScriptedTurn {
  recordPrompt(request);
  const task = request.messages.find((m) => m.role === 'user');
  const plan = parsePlanTask(task?.role === 'user' ? task.content : '');
  const turn = request.messages.filter((m) => m.role === 'assistant').length;
  const calls = plan.turns[turn];
  if (calls !== undefined) return { text: `attack turn ${turn + 1}`, toolCalls: calls };
  return { text: `attack over; saw ${codesSeen(request).join(' ')}` };
}

function attackerAgent(name: string, commandTimeoutMs: number): AgentDefinition {
  return defineAgent({
    name,
    model: scriptedModel(attacker),
    instructions: 'Follow the plan in the task exactly.',
    tools: [...fileTools, shellTool({ timeoutMs: commandTimeoutMs })],
    maxSteps: 60,
  });
}

/** `attacker`; `attacker-short-fuse` has commands killed after 2 s (the timeout path). */
export const attackerName = 'attacker';
export const shortFuseName = 'attacker-short-fuse';
export const shortFuseMs = 2_000;

export default [attackerAgent(attackerName, 30_000), attackerAgent(shortFuseName, shortFuseMs)];
