import { spawn } from 'node:child_process';
import { z } from 'zod';
import type { EffectClass } from '@longrun/core';
import { defineTool, type AgentTool } from '../agent/define-agent.ts';
import { capOutput } from './output-cap.ts';

export interface ShellToolOptions {
  /** What a re-run after a crash may do: `unsafe` (default) never repeats it blindly. */
  effect?: EffectClass;
  needsApproval?: boolean;
  timeoutMs?: number;
  maxOutputChars?: number;
  /** The only environment the command sees; the worker's own (and its secrets) is never inherited. */
  env?: Record<string, string>;
}

/**
 * Runs a shell command in the session's workspace (a plain process: it isolates nothing; the
 * sandbox drivers replace it). A non-zero exit is a result the model reads, not an error; the
 * whole process group is killed on timeout and when the run is stopped.
 */
export function shellTool(options: ShellToolOptions = {}): AgentTool<never> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxChars = options.maxOutputChars ?? 16_000;
  return defineTool({
    name: 'run_command',
    description: `Runs a shell command in the workspace and returns its exit code and output (capped at ${maxChars} characters).`,
    input: z.object({ command: z.string().min(1) }),
    effect: options.effect ?? 'unsafe',
    needsApproval: options.needsApproval ?? false,
    run: ({ command }, { workspaceDir, signal }) =>
      new Promise((resolve, reject) => {
        const env = options.env ?? {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: workspaceDir,
          LANG: 'C.UTF-8',
        };
        const child = spawn('/bin/sh', ['-c', command], {
          cwd: workspaceDir,
          env,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        let timedOut = false;
        const collect = (chunk: Buffer): void => {
          if (output.length < maxChars * 4) output += chunk.toString();
        };
        child.stdout.on('data', collect);
        child.stderr.on('data', collect);
        const killTree = (): void => {
          if (child.pid !== undefined) {
            try {
              process.kill(-child.pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
        };
        const timer = setTimeout(() => {
          timedOut = true;
          killTree();
        }, timeoutMs);
        signal.addEventListener('abort', killTree, { once: true });
        child.on('error', (error) => {
          clearTimeout(timer);
          reject(error);
        });
        child.on('close', (code, killedBy) => {
          clearTimeout(timer);
          signal.removeEventListener('abort', killTree);
          const status = timedOut
            ? `timed out after ${timeoutMs} ms`
            : killedBy
              ? `killed by ${killedBy}`
              : `exit code ${code}`;
          resolve(`${status}\n${capOutput(output, maxChars)}`);
        });
      }),
  });
}
