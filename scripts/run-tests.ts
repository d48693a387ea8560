// Runs `vitest run` once, bounded in time, and ends with the one line CI reads:
// `N passed, N failed` (`, N skipped` when some were skipped or todo).
//
// Usage: node scripts/run-tests.ts [vitest args…]   e.g. `npm test -- packages/core -t fold`
// Env:   LONGRUN_TEST_TIMEOUT_S  wall-clock limit for the whole run in seconds (default 2400).
//        TMPDIR is set, for vitest and all it starts, to a directory of this run's own
//        (longrun-test-run-*), removed when the run ends.
//
// Invariants: the counts line is the last line this script prints, whatever happened; the exit
// code is non-zero exactly when it reports a failure. Anything that is not a clean pass without
// a count of its own (a file that failed to load, an unhandled error, a crash, a timeout, no JSON
// report) is counted as one failure and explained on the line above.
import { spawn } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';

const root = join(import.meta.dirname, '..');
const reportPath = join(root, 'test-results', 'vitest.json');
const vitestBin = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const defaultTimeoutS = 2400;
/** Between SIGTERM and SIGKILL when vitest is being stopped. */
const killGraceMs = 10_000;
/** How long processes vitest started may take to exit after vitest itself has. */
const leftoverGraceMs = 2_000;

interface RunOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Why the run was stopped from outside (timeout, Ctrl-C), if it was. */
  stoppedBecause: string | null;
  /** Processes of the run still alive after vitest exited (then killed), as `pid command`. */
  leftovers: string[];
}

/** The part of Vitest's JSON report (reporters/json) this script reads. */
interface VitestReport {
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numTodoTests: number;
  testResults: {
    name: string;
    status: string;
    message: string;
    assertionResults: { status: string }[];
  }[];
}

interface Summary {
  passed: number;
  failed: number;
  skipped: number;
  /** One line each, printed above the counts line. */
  notes: string[];
}

function readTimeoutS(): number {
  const raw = process.env.LONGRUN_TEST_TIMEOUT_S;
  if (raw === undefined || raw.trim() === '') return defaultTimeoutS;
  const seconds = Number(raw);
  // setTimeout holds at most 2^31-1 ms (about 24 days).
  if (!(seconds > 0 && seconds * 1000 <= 2 ** 31 - 1)) {
    throw new Error(
      `LONGRUN_TEST_TIMEOUT_S must be a number of seconds in (0, 2147483], got '${raw}'`,
    );
  }
  return seconds;
}

/** Signals vitest's whole process group (workers, spawned crash-test children); never throws. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nobody left in the group.
  }
}

/**
 * Commands of the live (non-zombie) processes in a process group. Reads /proc, so Linux only;
 * elsewhere it reports nothing. Zombies are skipped: vitest's own watchdog is often left as one
 * when the machine's init does not reap, and a zombie cannot print.
 */
function livingInGroup(pgid: number): string[] {
  if (!existsSync('/proc/self/stat')) return [];
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid pgrp …"; comm may contain spaces and parentheses.
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) !== pgid || state === 'Z') continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      found.push(`${entry} ${cmdline.trim().slice(0, 120)}`);
    } catch {
      // The process exited while we looked.
    }
  }
  return found;
}

/** Gives stragglers up to `graceMs` to exit on their own, then SIGKILLs the group. */
async function reapGroup(pgid: number, graceMs: number): Promise<string[]> {
  const deadlineMs = Date.now() + graceMs;
  let living = livingInGroup(pgid);
  while (living.length > 0 && Date.now() < deadlineMs) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    living = livingInGroup(pgid);
  }
  signalGroup(pgid, 'SIGKILL');
  return living;
}

function runVitest(args: string[], timeoutS: number, tempRoot: string): Promise<RunOutcome> {
  const vitestArgs = ['run', '--reporter=default', '--reporter=json'];
  vitestArgs.push(`--outputFile.json=${reportPath}`, ...args);
  return new Promise((resolve, reject) => {
    // detached: vitest leads its own process group, so stopping it stops everything it started.
    const child = spawn(process.execPath, [vitestBin, ...vitestArgs], {
      cwd: root,
      env: { ...process.env, TMPDIR: tempRoot },
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
    });
    const pgid = child.pid;
    if (pgid === undefined) {
      child.once('error', (error) => reject(new Error(`cannot start vitest: ${error.message}`)));
      return;
    }
    let stoppedBecause: string | null = null;
    const timers: NodeJS.Timeout[] = [];
    const stop = (reason: string): void => {
      if (stoppedBecause !== null) return;
      stoppedBecause = reason;
      signalGroup(pgid, 'SIGTERM');
      timers.push(setTimeout(() => signalGroup(pgid, 'SIGKILL'), killGraceMs));
    };
    timers.push(setTimeout(() => stop(`vitest ran longer than ${timeoutS} s`), timeoutS * 1000));
    const forwarded = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    const onSignal = (signal: NodeJS.Signals): void => stop(`interrupted by ${signal}`);
    forwarded.forEach((signal) => process.on(signal, onSignal));

    child.once('close', (code, signal) => {
      timers.forEach(clearTimeout);
      // Anything still in the group outlived vitest and could print after our last line.
      void reapGroup(pgid, leftoverGraceMs).then((leftovers) => {
        forwarded.forEach((s) => process.off(s, onSignal));
        resolve({ code, signal, stoppedBecause, leftovers });
      });
    });
  });
}

function readReport(): VitestReport | string {
  const shownPath = relative(root, reportPath);
  if (!existsSync(reportPath)) return `vitest wrote no JSON report at ${shownPath}`;
  try {
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as VitestReport;
    const counts = [report.numPassedTests, report.numFailedTests, report.numPendingTests];
    if (!counts.every(Number.isInteger) || !Array.isArray(report.testResults)) {
      return `${shownPath} is not a Vitest JSON report`;
    }
    return report;
  } catch (error) {
    return `cannot read ${shownPath}: ${(error as Error).message}`;
  }
}

function summarize(report: VitestReport): Summary {
  const summary: Summary = {
    passed: report.numPassedTests,
    failed: report.numFailedTests,
    skipped: report.numPendingTests + (report.numTodoTests || 0),
    notes: [],
  };
  for (const file of report.testResults) {
    const path = relative(root, file.name);
    // A file can fail with no failed test: it did not load, or a beforeAll/afterAll hook threw.
    if (file.status === 'failed' && !file.assertionResults.some((t) => t.status === 'failed')) {
      summary.failed += 1;
      summary.notes.push(
        `FAILED ${path}: ${file.message.split('\n')[0] || 'failed outside any test'}`,
      );
    }
  }
  return summary;
}

/** Folds how vitest ended into the report's counts: every abnormal end is one more failure. */
function judge(outcome: RunOutcome, report: VitestReport | string): Summary {
  const reasons: string[] = [];
  if (outcome.stoppedBecause !== null) reasons.push(outcome.stoppedBecause);
  if (outcome.signal !== null) reasons.push(`vitest was killed by ${outcome.signal}`);
  // Reported, not failed: a leak is a defect to fix, but not a wrong test result.
  const leaks = outcome.leftovers.map((p) => `warning: outlived vitest, killed: ${p}`);
  if (typeof report === 'string') {
    return { passed: 0, failed: 1, skipped: 0, notes: [...leaks, ...reasons, report] };
  }
  const summary = summarize(report);
  if (outcome.code !== 0 && outcome.signal === null && summary.failed === 0) {
    // Unhandled errors, "no test files found", a bad CLI flag: vitest failed the run without a test.
    reasons.push(
      `vitest exited with code ${outcome.code} although no test failed (see its output)`,
    );
  }
  if (reasons.length > 0 && summary.failed === 0) summary.failed = 1;
  summary.notes.push(...leaks, ...reasons);
  return summary;
}

function formatCounts({ passed, failed, skipped }: Summary): string {
  return `${passed} passed, ${failed} failed` + (skipped > 0 ? `, ${skipped} skipped` : '');
}

async function main(): Promise<Summary> {
  const timeoutS = readTimeoutS();
  if (!existsSync(vitestBin)) throw new Error(`vitest is not installed (${vitestBin}); run npm ci`);
  // A report left by an earlier run must never be read as this run's result.
  rmSync(reportPath, { force: true });
  mkdirSync(dirname(reportPath), { recursive: true });
  // The run's temporary files (tests' directories, stores, clusters, sandboxes' workspaces, and
  // what processes killed mid-test left) go under one directory of its own, removed at the end.
  // Open to every user as /tmp is: sandboxes run commands as users of their own.
  const tempRoot = mkdtempSync(join(tmpdir(), 'longrun-test-run-'));
  chmodSync(tempRoot, 0o1777);
  try {
    const outcome = await runVitest(process.argv.slice(2), timeoutS, tempRoot);
    return judge(outcome, readReport());
  } finally {
    try {
      rmSync(tempRoot, { recursive: true, force: true, maxRetries: 3 });
    } catch (error) {
      process.stdout.write(`run-tests: could not remove ${tempRoot}: ${String(error)}\n`);
    }
  }
}

const summary = await main().catch((error: unknown): Summary => ({
  passed: 0,
  failed: 1,
  skipped: 0,
  notes: [`run-tests: ${error instanceof Error ? error.message : String(error)}`],
}));
process.stdout.write(['', ...summary.notes, formatCounts(summary)].join('\n') + '\n');
process.exitCode = summary.failed > 0 ? 1 : 0;
