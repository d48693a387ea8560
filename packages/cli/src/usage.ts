const sandboxHelp = `Sandbox: agents' commands run in bubblewrap sandboxes by default (namespaces, seccomp, cgroup
limits, a read-only root, a capped workspace; \`longrun doctor\` lists what this machine enforces).
Where bubblewrap does not isolate, agents that run commands are refused (exit 4) unless you opt
into --sandbox process by name, which isolates nothing and says so on every start. --sandbox bwrap
insists on bubblewrap; --sandbox-pool N keeps N sandboxes warm and queues work at that ceiling;
--sandbox-strict also refuses to run a command when a resource limit is missing.`;

export const usage = {
  main: `longrun — durable runtime for long-running agents

Usage: longrun <command> [options]

Commands:
  dev                  everything in one process on SQLite in ./.longrun/: a worker for the agents of
                       --agents (default: examples/fix-failing-test when run from the repository),
                       and the HTTP API with the dashboard at http://127.0.0.1:7070
  serve                the HTTP API and the dashboard over a store (no worker), with API keys
  keys create|list|revoke
                       API keys per tenant (create prints the key once)
  schedules create|list|show|pause|resume|delete
                       cron schedules that start sessions of an agent
  demo                 run the sample durable session on the embedded SQLite store, with live progress;
                       interrupt it at any time (Ctrl-C, kill -9) and run it again: it resumes
  run <agent> "<task>" run an agent on a task with live progress (agent: a module or package directory,
                       e.g. examples/fix-failing-test)
  worker               claim and run sessions from a store until stopped
  sessions list        list sessions, newest first, with their tasks
  sessions show <id>   show one session and its events
  sessions tail <id>   follow a session's events (and durable tokens) until it ends
  sessions approvals <id> [approval-id]
                       a session's pending approvals; with an approval id, its whole arguments
  sessions approve|deny <id> [approval-id]
                       decide a pending approval
  sessions cancel <id> cancel a session
  sessions resume <id> run a paused session again (once what its reason says is dealt with)
  sessions budget <id> [--cost-usd N] [--input-tokens N] [--output-tokens N] [--cache-tokens N]
                       [--tool-calls N] [--tool NAME=N] [--wall-clock-ms N] [--steps N]
                       [--sub-agents N]
                       change a session's budget (none removes a limit); resumes a session
                       paused for BUDGET_EXCEEDED
  sessions message <id> "<text>"
                       add a follow-up message (a new turn, also for a finished session)
  sessions signal <id> <name> [json]
                       deliver a signal to a session (wakes a session waiting for it)
  sessions diff <id> [--from SEQ] [--to SEQ] [--text]
                       what changed in the session's workspace between two snapshots
  sessions fork <id> [--at SEQ]
                       a new session from the first SEQ events of another (default: all of
                       them); its workspace is the same snapshot, by manifest, not a copy
  sessions bundle <id> [-o PATH]
                       a debug bundle (<id>.bundle.tar.gz): events, state, trace, tool calls,
                       workspace and diff, progress files, versions; secrets masked
  replay <bundle>      re-run a debug bundle's session offline (recorded model responses and tool
                       results, no network, no side effects) and report the first divergence
  doctor               open the store and report its durability settings

Global options:
  --store <url>        SQLite file or postgres:// URL (default ./.longrun/longrun.db)
  --json               machine-readable output
  -h, --help           help for a command
  --version            print longrun's version

Exit codes: 0 ok, 1 failed, 2 bad command line (also a --port in use), 3 store unavailable (also a\n--store file that does not exist, for commands that only read it), 4 no isolating sandbox for\nagents that run commands, 5 cancelled, 130 interrupted.`,
  demo: `longrun demo [--store <url>] [--steps N] [--delay-ms N] [--crash-at-step N] [--new] [--json]

Runs the demo agent on the harness every agent runs on: each step its deterministic local model (no
network) asks for a tool call, half of them a keyed effect on an external ledger
(./.longrun/demo/ledger), then it answers.
  --steps N           model turns that call a tool (default 40)
  --delay-ms N        simulated tool latency (default 120)
  --crash-at-step N   kill this process with SIGKILL when step N starts, to watch the next run resume
  --new               start a new demo session even if an unfinished one exists`,
  run: `longrun run <agent-module> "<task>" [--store <url>] [--agent NAME] [--tenant T] [--json]
               [--sandbox process|bwrap] [--sandbox-pool N] [--sandbox-strict]
               [--cost-usd N] [--input-tokens N] [--output-tokens N] [--cache-tokens N]
               [--tool-calls N] [--tool NAME=N]... [--wall-clock-ms N] [--steps N] [--sub-agents N]

Creates a session for the agent exported (default export) by the module or package directory, and
runs it here with live progress. --tenant: the tenant the session belongs to (default "default";
the API shows it to that tenant's keys). --json prints every event as a JSON line. Exit code: 0 completed,
1 failed, 4 no isolating sandbox, 5 cancelled, 130 interrupted (the session is durable; a worker
carries it on). The budget flags set the session's budget (the agent's own fills in the rest);
passing one pauses the session with BUDGET_EXCEEDED until \`longrun sessions budget\` raises it.

${sandboxHelp}`,
  worker: `longrun worker [--store <url>] [--agents <module>]... [--worker-id ID] [--concurrency N] [--lease-ms N]
               [--liveness-ms N] [--metrics-port N [--metrics-host 127.0.0.1]]
               [--remove-finished-workspaces]
               [--sandbox process|bwrap] [--sandbox-pool N] [--sandbox-strict]

Claims runnable sessions of the agents of the given modules and runs them until SIGINT/SIGTERM.
Its id is <host>-worker (<host>-worker-<pid> while another process on the host holds that), or
--worker-id; restarted under its id, it reclaims its sessions at once. Started while the store is
unreachable, it waits for it (saying so on stderr); a dropped connection never ends it. On
PostgreSQL its liveness is a heartbeat: with --liveness-ms L (default 5000), it stops its sessions'
side effects when it cannot confirm it for L/2, and others may take them after L (at once when it
died on their host). See docs/durability.md.

A session's workspace directory (.longrun/workspaces/<id>) stays where the agent left it. With
--remove-finished-workspaces it is removed once the session's run ends completed, failed or
cancelled, so a worker that runs for weeks keeps its disk to the sessions it runs; the snapshots
stay in the store (sessions diff, the API's files), and a follow-up message restores it. One left
by a worker killed between the session's end and the removal is removed when a worker with the
flag starts.

--metrics-port N serves GET /metrics (Prometheus text format; 0: a free port, said in the start
line) on --metrics-host (default 127.0.0.1). See docs/observability.md.

${sandboxHelp}`,
  sessions: `longrun sessions list [--status S] [--limit N] [--json]
longrun sessions show <id> [--json]
longrun sessions tail <id> [--json]
longrun sessions approvals <id> [approval-id] [--json]
longrun sessions approve <id> [approval-id] [--reason TEXT] [--scope call|arguments|tool]
longrun sessions deny <id> [approval-id] [--reason TEXT]
longrun sessions cancel <id> [--reason TEXT]
longrun sessions resume <id> [--reason TEXT]
longrun sessions budget <id> [--cost-usd N|none] [--input-tokens N] [--output-tokens N]
               [--cache-tokens N] [--tool-calls N] [--tool NAME=N]... [--wall-clock-ms N]
               [--steps N] [--sub-agents N] [--reason TEXT] [--json]
longrun sessions message <id> "<text>"
longrun sessions signal <id> <name> [json-payload]
longrun sessions fork <id> [--at SEQ] [--json]
longrun sessions diff <id> [--from SEQ] [--to SEQ] [--text]
longrun sessions bundle <id> [-o PATH] [--json]

tail: prints the events, then follows the session until it ends. A store it cannot reach (a
server restart) is waited out, with a line on stderr per attempt, for up to 10 minutes; it goes on
after the last event it printed, so none is printed twice or left out.

Each of these commands needs an existing store: a SQLite --store file that does not exist exits 3
and nothing is created.

bundle: a debug bundle of the session, <id>.bundle.tar.gz in the current directory (or PATH): its
events (session.jsonl), last state, trace, tool-call table (tool_calls.csv), the last workspace
snapshot and its diff against the first, the agent's progress files and env.txt, with secret
values masked. \`longrun replay <bundle>\` re-runs it offline.

approvals: the session's pending approvals, each with its arguments as the log holds them. Arguments
too large for the log are there only as a capped view (the first 8,000 characters by default):
such an approval says how many characters are not shown, and approving runs all of them. With an
approval id, that approval's whole arguments (read from the blob store, checked against the
sha256 the view names). Runs of spaces, tabs, control and invisible characters (zero-width,
bidi overrides such as U+202E) are written out as markers: ⟨40,000 spaces⟩, ⟨U+202E⟩. Exit 1
when the whole arguments cannot be read.

approve --scope: call (default) grants this call only; arguments also every later call of the same
tool with the same arguments in the session; tool every later call of the tool in the session. A
grant never overrides a deny.`,
  replay: `longrun replay <bundle.tar.gz> [--agents <module>]... [--timeout-ms N] [--json]

Re-runs the session of a debug bundle (longrun sessions bundle) offline: the agent's harness, as
the module of --agents defines it now (default: examples/fix-failing-test from the repository),
on a temporary SQLite store, with the recorded model responses in place of the model and the
recorded tool results in place of the tools (no tool runs, no network). Approvals, messages,
cancels, resumes, budget changes and signals are given again from the log when the session waits
for them; a fork's copied events are copied. Each model request is checked against the bundle's
fingerprint of it (requests.jsonl), and the events made are compared with the recorded ones,
leaving out what only the recording's circumstances made (streamed text, attempts a dead worker
left, workspace snapshots, ids and times). Prints the first divergence (seq, event type, expected
vs got, the fields that differ) or "0 divergences". Exit code 0 identical, 1 divergence.`,
  doctor: `longrun doctor [--store <url>] [--json]

Opens an existing store (a SQLite file that does not exist exits 3, and nothing is created) and
reports its durability settings, how dead workers are detected, and the sandbox protections this
machine enforces.`,
  serve: `longrun serve [--store <url>] [--port N] [--host 127.0.0.1] [--no-auth] [--agents <module>]...

Serves the HTTP API (/v1, OpenAPI at /v1/openapi.json) and the dashboard (/) over a store, until
SIGINT/SIGTERM; workers run apart (longrun worker). GET /metrics (Prometheus text format, no key
needed: aggregate counts only) serves sessions by status and the claim queue. Requests need an API key (longrun keys create)
unless --no-auth, which is allowed on a loopback host only. --agents: the agents sessions may be
created for (default: any name). Default port 7070 (a free one if it is taken and --port is not
given); prints the URL on stdout. Streams: on PostgreSQL, workers publish token deltas and commits
with NOTIFY and this server LISTENs, so readers get them at once; on SQLite the server polls (one
read for all watched sessions every 25 ms), and token deltas arrive as the durable, coalesced
model.streamed events.`,
  keys: `longrun keys create --tenant <tenant> [--role operator|approver|viewer|admin] [--name NAME] [--store <url>] [--json]
longrun keys list [--tenant <tenant>] [--json]
longrun keys revoke <key-id>

An API key is lr_<key-id>_<secret>, sent as Authorization: Bearer <key>. create prints it once;
the store keeps only a hash of the secret. A revoked key is refused (401) at once. create makes
the store if it does not exist; list and revoke exit 3 on a SQLite file that does not exist.
Roles: viewer reads; operator reads and runs agents (sessions, messages, signals, cancel, resume,
fork, schedules); approver reads and decides approvals; admin does everything. --role defaults to
operator: a key made without thinking about it can run agents but cannot approve their calls
(keys made before roles existed are admin). A request its role does not allow gets 403
PERMISSION_DENIED naming the role it needs.`,
  schedules: `longrun schedules create --agent <name> --cron <expr> [--input <json|text>] [--timezone <IANA zone>]
                         [--catch-up skip|once|all] [--max-catch-up N] [--overlap skip|allow] [--paused]
longrun schedules list [--tenant <tenant>] [--json]
longrun schedules show|pause|resume|delete <schedule-id>
  (all take --store <url> and --json)

A schedule starts a session of its agent with its input at every tick of its cron expression (5
fields, or 6 with seconds first; read in --timezone, default UTC). Every worker that runs the agent
fires due ticks, and each tick starts exactly one session however many workers there are.
--catch-up says what ticks missed while no worker ran start: skip (none, default), once (one
session for all of them) or all (one each, the latest --max-catch-up, default 100). --overlap skip
(default) starts nothing while the schedule's previous session is unfinished; allow starts anyway.
resume starts again from the next tick after now: ticks during a pause are not caught up. create
makes the store if it does not exist; the others exit 3 on a SQLite file that does not exist.`,
  dev: `longrun dev [--agents <module>]... [--port N] [--keys] [--sandbox process|bwrap] [--sandbox-pool N] [--sandbox-strict]

Runs, in one process on the embedded store (./.longrun/longrun.db), a worker for the given agent
modules (default: examples/fix-failing-test when run from the repository), and the HTTP API with
the dashboard on http://127.0.0.1:7070 (a free port if it is taken and --port is not given), until
Ctrl-C. Without --keys the API needs no key and answers on 127.0.0.1 only. GET /v1/figures reports
the sandbox pool's size, use, queue and provisioning latency, and the worker's counts (sessions
ended by outcome, events committed, append stalls, leases lost, liveness doubts) — to a server
without keys; with --keys, a key sees its tenant's streams and the connections only. GET /metrics
the same and more in the Prometheus text format (docs/observability.md).

${sandboxHelp}`,
} as const;
