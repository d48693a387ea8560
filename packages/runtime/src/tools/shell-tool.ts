import { z } from 'zod';
import type { EffectClass, ExecResult, Tool } from '@longrun/core';
import { defineTool } from '../agent/define-agent.ts';
import { capOutput } from './output-cap.ts';

export interface ShellToolOptions {
  /** What a re-run after a crash may do: `unsafe` (default) never repeats it blindly. */
  effect?: EffectClass;
  needsApproval?: boolean;
  timeoutMs?: number;
  maxOutputChars?: number;
  /** Added to the sandbox's environment for these commands (the worker's own is never inherited). */
  env?: Record<string, string>;
}

/**
 * Runs a shell command in the session's workspace, inside the agent's sandbox (bubblewrap unless
 * the agent names a driver). A non-zero exit is a result the model reads, not an error;
 * the sandbox kills the whole process tree on timeout and when the run is stopped.
 */
export function shellTool(options: ShellToolOptions = {}): Tool {
  const timeoutMs = options.timeoutMs ?? 120_000;
  const maxChars = options.maxOutputChars ?? 16_000;
  return defineTool({
    name: 'run_command',
    description: `Runs a shell command in the workspace and returns its exit code and output (capped at ${maxChars} characters).`,
    input: z.object({ command: z.string().min(1) }),
    effect: options.effect ?? 'unsafe',
    needsApproval: options.needsApproval ?? false,
    usesSandbox: true,
    run: async ({ command }, context) => {
      const sandbox = await context.sandbox();
      const result = await sandbox.exec({
        argv: ['/bin/sh', '-c', command],
        timeoutMs,
        // Bytes kept per stream: enough for maxChars characters of UTF-8 after both are joined.
        maxOutputBytes: maxChars * 4,
        signal: context.signal,
        ...(options.env ? { env: options.env } : {}),
      });
      return `${describeExit(result, timeoutMs)}\n${capOutput(result.stdout + result.stderr, maxChars)}`;
    },
  });
}

function describeExit(result: ExecResult, timeoutMs: number): string {
  if (result.timedOut) return `timed out after ${timeoutMs} ms`;
  if (result.cancelled) return 'cancelled: the run was stopped';
  if (result.signal !== null) return `killed by ${result.signal}`;
  return `exit code ${result.exitCode}`;
}
