import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { ExecRequest, ExecResult } from '@longrun/core';

/**
 * Waits for a spawned command and turns it into an ExecResult: output kept up to
 * `maxOutputBytes` per stream (the rest drained and dropped, so the command never blocks on a
 * full pipe), killed through `kill` on timeout or cancel, and finished when the process and
 * every holder of its output pipes are gone (see `afterExit`).
 */
export interface ChildControl {
  /** Kills the command and everything it started (timeout, cancel). */
  kill(): void;
  /**
   * Called once the command itself exited: kills what it left running in the background, so
   * that nothing outlives an exec and its output pipes close.
   */
  afterExit(): void;
}

export function collectResult(
  child: ChildProcess,
  request: ExecRequest,
  control: ChildControl,
): Promise<ExecResult> {
  const startedMs = performance.now();
  const stdout = capture(child.stdout, request.maxOutputBytes);
  const stderr = capture(child.stderr, request.maxOutputBytes);
  writeStdin(child, request.stdin);
  return new Promise((resolve) => {
    let timedOut = false;
    let cancelled = false;
    let spawnError: Error | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      control.kill();
    }, request.timeoutMs);
    const onAbort = (): void => {
      cancelled = true;
      control.kill();
    };
    if (request.signal?.aborted === true) onAbort();
    else request.signal?.addEventListener('abort', onAbort, { once: true });
    child.once('error', (error) => (spawnError = error));
    child.once('exit', () => control.afterExit());
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      request.signal?.removeEventListener('abort', onAbort);
      // A spawn failure (no such program) closes with a negative errno as code: report it like a shell.
      const notStarted = spawnError !== undefined && child.pid === undefined;
      resolve({
        exitCode: notStarted ? 127 : code,
        signal,
        stdout: stdout.text(),
        stderr: notStarted
          ? `cannot start ${request.argv[0]}: ${spawnError?.message}`
          : stderr.text(),
        truncated: stdout.truncated() || stderr.truncated(),
        timedOut,
        cancelled,
        durationMs: performance.now() - startedMs,
      });
    });
  });
}

interface Capture {
  text(): string;
  truncated(): boolean;
}

function capture(stream: Readable | null, maxBytes: number): Capture {
  const chunks: Buffer[] = [];
  let kept = 0;
  let dropped = false;
  stream?.on('data', (chunk: Buffer) => {
    const room = maxBytes - kept;
    if (room <= 0) {
      dropped = true;
      return;
    }
    if (chunk.length > room) dropped = true;
    const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
    chunks.push(part);
    kept += part.length;
  });
  return { text: () => Buffer.concat(chunks).toString('utf8'), truncated: () => dropped };
}

function writeStdin(child: ChildProcess, stdin: ExecRequest['stdin']): void {
  if (child.stdin === null) return;
  // A command that exits without reading its input closes the pipe: that is not our error.
  child.stdin.on('error', () => undefined);
  child.stdin.end(stdin === undefined ? undefined : Buffer.from(stdin));
}
