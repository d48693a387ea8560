import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileLedger } from '../ledger/file-ledger.ts';

/** One run of a tool, as the tool recorded it (fault-agent.ts, windows.log). */
export interface ToolWindow {
  sessionId: string;
  step: number;
  callIndex: number;
  attempt: number;
  tool: string;
  pid: number;
  /** CLOCK_MONOTONIC ns. */
  startNs: bigint;
  /** null: no end was written (the process died inside the window, or it still runs). */
  endNs: bigint | null;
  startWallMs: number;
  how: string | null;
}

/** What the fault agent's tools and model wrote outside longrun during a run. */
export interface RunRecords {
  windows: ToolWindow[];
  /** Runs of the unsafe tool without verify: key, pid. */
  unsafeRuns: { key: string; pid: number }[];
  /** Verifies of the unsafe tool with verify: key, what it found. */
  verifies: { key: string; applied: boolean }[];
  /** Model requests: session name, step, pid, wall ms. */
  requests: { name: string; step: number; pid: number; wallMs: number }[];
  /** Keyed effects applied by the ledger, and every attempt (re-runs included). */
  charges: { key: string; entry: string }[];
  chargeAttempts: Map<string, number>;
  /** Transfers applied (the verified unsafe tool's own ledger) and attempts. */
  transfers: { key: string; entry: string }[];
  transferAttempts: Map<string, number>;
}

function rows(dir: string, file: string): string[][] {
  const path = join(dir, file);
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => l.split('\t'));
}

export function readRecords(dir: string): RunRecords {
  const charges = new FileLedger(join(dir, 'ledger'));
  const transfers = new FileLedger(join(dir, 'transfers'));
  return {
    windows: readWindows(dir),
    unsafeRuns: rows(dir, 'unsafe.log').map(([key = '', pid = '0']) => ({
      key,
      pid: Number(pid),
    })),
    verifies: rows(dir, 'verify.log').map(([key = '', , applied]) => ({
      key,
      applied: applied === 'true',
    })),
    requests: rows(dir, 'requests.log').map(([name = '', step, pid, wallMs]) => ({
      name,
      step: Number(step),
      pid: Number(pid),
      wallMs: Number(wallMs),
    })),
    charges: charges.applied(),
    chargeAttempts: charges.attempts(),
    transfers: transfers.applied(),
    transferAttempts: transfers.attempts(),
  };
}

/** The tool runs `pid` is inside now (started, not ended), by windows.log. */
export function openWindows(dir: string, pid: number): ToolWindow[] {
  return readWindows(dir).filter((w) => w.pid === pid && w.endNs === null);
}

/** Pairs each `start` line with the `end` line of the same run (same id fields). */
function readWindows(dir: string): ToolWindow[] {
  const open = new Map<string, ToolWindow>();
  const windows: ToolWindow[] = [];
  for (const [
    kind,
    sessionId = '',
    step,
    callIndex,
    attempt,
    tool = '',
    pid,
    ns,
    wall,
    how,
  ] of rows(dir, 'windows.log')) {
    const id = [sessionId, step, callIndex, attempt, tool, pid].join('\t');
    if (kind === 'start') {
      const window: ToolWindow = {
        sessionId,
        step: Number(step),
        callIndex: Number(callIndex),
        attempt: Number(attempt),
        tool,
        pid: Number(pid),
        startNs: BigInt(ns ?? '0'),
        endNs: null,
        startWallMs: Number(wall),
        how: null,
      };
      open.set(id, window);
      windows.push(window);
    } else if (kind === 'end') {
      const window = open.get(id);
      if (window === undefined) continue;
      window.endNs = BigInt(ns ?? '0');
      window.how = how ?? null;
      open.delete(id);
    }
  }
  return windows;
}
