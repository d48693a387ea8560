/** The agent of the workspace-edits crash test (append-worker-process.ts) and its lines. */
export const appendAgentName = 'workspace-appender';

/** Line `n` of the agent's log.txt. */
export function appendedLine(n: number): string {
  return `line ${n} `.padEnd(40, '.');
}
