import { readdirSync, readFileSync } from 'node:fs';

/**
 * Process facts read from /proc (Linux only), for tests that must prove a server left nothing
 * running. A zombie counts as not running: it executes nothing and holds no port.
 */
function stat(pid: number): { state: string; ppid: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may contain spaces; fields follow the last ')'.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '?', ppid: Number(fields[1]) };
  } catch {
    return null;
  }
}

/** True while `pid` exists and is not a zombie. */
export function isRunning(pid: number): boolean {
  const s = stat(pid);
  return s !== null && s.state !== 'Z';
}

/** Pids of the running processes whose parent is `pid` (a postmaster's backends and workers). */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s !== null && s.ppid === pid && s.state !== 'Z') children.push(Number(name));
  }
  return children;
}
