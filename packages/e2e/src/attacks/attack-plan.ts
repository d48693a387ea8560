import type { JsonObject } from '@longrun/core';

/**
 * An attack is a script of tool calls, sent as the session's task (the text a prompt-injected
 * agent would obey): the attacker agent's scripted model replays turn N as its N-th answer and
 * then reports the error codes it saw. The test writes the script; the agent only plays it.
 */
export interface AttackCall {
  name: 'run_command' | 'read_file' | 'write_file' | 'edit_file' | 'list_files';
  args: JsonObject;
}

export interface AttackPlan {
  /** One model answer each; the calls of one answer run one after another. */
  turns: AttackCall[][];
}

export const runCommand = (command: string): AttackCall => ({
  name: 'run_command',
  args: { command },
});
export const readFile = (path: string): AttackCall => ({ name: 'read_file', args: { path } });
export const writeFile = (path: string, content: string): AttackCall => ({
  name: 'write_file',
  args: { path, content },
});
export const editFile = (path: string, oldText: string, newText: string): AttackCall => ({
  name: 'edit_file',
  args: { path, old_text: oldText, new_text: newText },
});
export const listFiles = (path = '.'): AttackCall => ({ name: 'list_files', args: { path } });

export const planPrefix = 'ATTACK PLAN ';

export function planTask(plan: AttackPlan): string {
  return `${planPrefix}${JSON.stringify(plan)}`;
}

export function parsePlanTask(task: string): AttackPlan {
  if (!task.startsWith(planPrefix)) throw new Error(`not an attack plan: ${task.slice(0, 80)}`);
  return JSON.parse(task.slice(planPrefix.length)) as AttackPlan;
}
