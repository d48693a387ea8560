export const usage = {
  main: `longrun — durable runtime for long-running agents

Usage: longrun <command> [options]

Commands:
  dev                  everything in one process on SQLite in ./.longrun/: a worker for the agents of
                       --agents (default: examples/fix-failing-test when run from the repository)
  demo                 run the sample durable session on the embedded SQLite store, with live progress;
                       interrupt it at any time (Ctrl-C, kill -9) and run it again: it resumes
  run <agent> "<task>" run an agent on a task with live progress (agent: a module or package directory,
                       e.g. examples/fix-failing-test)
  worker               claim and run sessions from a store until stopped
  sessions list        list sessions
  sessions show <id>   show one session and its events
  sessions tail <id>   follow a session's events (and durable tokens) until it ends
  sessions approve|deny <id> [approval-id]
                       decide a pending approval
  sessions cancel <id> cancel a session
  sessions message <id> "<text>"
                       add a follow-up message (a new turn, also for a finished session)
  sessions signal <id> <name> [json]
                       deliver a signal to a session (wakes a session waiting for it)
  doctor               open the store and report its durability settings

Global options:
  --store <url>        SQLite file or postgres:// URL (default ./.longrun/longrun.db)
  --json               machine-readable output
  -h, --help           help for a command

Exit codes: 0 ok, 1 failed, 2 bad command line, 3 store unavailable, 5 cancelled, 130 interrupted.`,
  demo: `longrun demo [--store <url>] [--steps N] [--delay-ms N] [--crash-at-step N] [--new] [--json]

Runs the sample ledger agent: each step a scripted model asks for a tool call, half of them a keyed
effect on an external ledger (./.longrun/demo/ledger). Halfway it waits on a durable 2 s timer.
  --steps N           model turns (default 40)
  --delay-ms N        simulated tool latency (default 120)
  --crash-at-step N   kill this process with SIGKILL when step N starts, to watch the next run resume
  --new               start a new demo session even if an unfinished one exists`,
  run: `longrun run <agent-module> "<task>" [--store <url>] [--agent NAME] [--json]

Creates a session for the agent exported (default export) by the module or package directory, and
runs it here with live progress. --json prints every event as a JSON line. Exit code: 0 completed,
1 failed, 5 cancelled, 130 interrupted (the session is durable; a worker carries it on).`,
  worker: `longrun worker [--store <url>] [--agents <module>]... [--worker-id ID] [--concurrency N] [--lease-ms N] [--dir DIR]

Claims runnable sessions and runs them until SIGINT/SIGTERM: the agents of the given modules, and the
sample ledger programs.`,
  sessions: `longrun sessions list [--status S] [--limit N] [--json]
longrun sessions show <id> [--json]
longrun sessions tail <id> [--json]
longrun sessions approve <id> [approval-id] [--reason TEXT]
longrun sessions deny <id> [approval-id] [--reason TEXT]
longrun sessions cancel <id> [--reason TEXT]
longrun sessions message <id> "<text>"
longrun sessions signal <id> <name> [json-payload]`,
  doctor: `longrun doctor [--store <url>] [--json]`,
  dev: `longrun dev [--agents <module>]...

Runs a worker on the embedded store (./.longrun/longrun.db) for the given agent modules (default:
examples/fix-failing-test when run from the repository) and the sample programs, until Ctrl-C.`,
} as const;
