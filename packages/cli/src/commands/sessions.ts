import {
  fold,
  approvalScopes,
  isApprovalScope,
  sessionId,
  terminalText,
  type JsonValue,
  type SessionId,
  type SessionRecord,
  type SessionStatus,
  type SessionStore,
} from '@longrun/core';
import { defaultStore, intFlag, parseFlags, UsageError } from '../args.ts';
import { describeEvent } from '../event-lines.ts';
import { exitCodes } from '../exit-codes.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';
import { resolve } from 'node:path';
import { changeBudget, forkSession, signalSession, writeSessionBundle } from '@longrun/runtime';
import { budgetChangeFromFlags, budgetFlagOptions, budgetLines } from '../budget-flags.ts';
import { addMessage, cancel, decide, resume } from './session-actions.ts';
import { approvalsOutput } from './session-approvals.ts';
import { tail } from './session-tail.ts';
import { workspaceDiffLines } from './workspace-diff.ts';

const subcommands = [
  'list',
  'show',
  'tail',
  'approvals',
  'approve',
  'deny',
  'cancel',
  'resume',
  'budget',
  'message',
  'signal',
  'diff',
  'fork',
  'bundle',
];
const statuses = ['queued', 'running', 'waiting', 'paused', 'completed', 'failed', 'cancelled'];

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags(
    argv,
    {
      store: { type: 'string' },
      json: { type: 'boolean' },
      status: { type: 'string' },
      limit: { type: 'string' },
      reason: { type: 'string' },
      scope: { type: 'string' },
      at: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      text: { type: 'boolean' },
      output: { type: 'string', short: 'o' },
      ...budgetFlagOptions,
    },
    usage.sessions,
  );
  const [sub, ...args] = positionals;
  if (values.help || sub === undefined) {
    process.stdout.write(`${usage.sessions}\n`);
    return values.help ? exitCodes.ok : exitCodes.usage;
  }
  if (values.status !== undefined && !statuses.includes(values.status)) {
    throw new UsageError(`--status must be one of ${statuses.join(', ')}`);
  }
  // The command line is checked before the store is opened: a mistake in it is exit 2, wherever
  // --store points.
  if (!subcommands.includes(sub))
    throw new UsageError(`unknown sessions subcommand ${JSON.stringify(sub)}\n\n${usage.sessions}`);
  const limit = intFlag(values.limit, 'limit', 50, { min: 1, max: 1_000 });
  // Every subcommand lists or names a session that must be stored already: a mistyped --store
  // is said (exit 3), never made into a new, empty store.
  // `tail` follows a session through outages: started during one, it waits for the store too.
  const store = await openStore(values.store ?? defaultStore, {
    mustExist: true,
    ...(sub === 'tail'
      ? { waitForServer: true, log: (msg: string) => void process.stderr.write(`${msg}\n`) }
      : {}),
  });
  const out = (line: string): boolean => process.stdout.write(`${line}\n`);
  try {
    switch (sub) {
      case 'list': {
        const list = await store.listSessions({
          ...(values.status ? { status: values.status as SessionStatus } : {}),
          limit,
          newestFirst: true,
        });
        if (values.json) out(JSON.stringify(list));
        else for (const line of await sessionLines(store, list)) out(terminalText(line));
        return exitCodes.ok;
      }
      case 'show': {
        const id = sessionId(required(args[0], 'session id'));
        const session = await store.getSession(id);
        const events = await store.readEvents(id, 0, 100_000);
        if (values.json) out(JSON.stringify({ session, events }));
        else {
          out(
            terminalText(
              `${session.id}  ${session.status}${session.statusReason ? ` (${session.statusReason})` : ''}  agent ${session.agent}  lease epoch ${session.leaseEpoch}`,
            ),
          );
          for (const e of events) {
            const line = describeEvent(e);
            if (line !== null) out(line);
          }
          for (const line of budgetLines(fold(events))) out(line);
        }
        return exitCodes.ok;
      }
      case 'budget': {
        const id = sessionId(required(args[0], 'session id'));
        const change = budgetChangeFromFlags(values);
        const { resumed } = await changeBudget(store, id, {
          by: 'cli',
          reason: values.reason ?? null,
          change,
        });
        out(
          values.json
            ? JSON.stringify({ sessionId: id, change, resumed })
            : `budget change sent to ${id}${resumed ? '; it was paused for its budget and is resumed' : ''}`,
        );
        return exitCodes.ok;
      }
      case 'signal': {
        const id = sessionId(required(args[0], 'session id'));
        const name = required(args[1], 'signal name');
        let payload: JsonValue = null;
        try {
          payload = args[2] === undefined ? null : (JSON.parse(args[2]) as JsonValue);
        } catch {
          throw new UsageError(`the signal payload must be JSON (got ${JSON.stringify(args[2])})`);
        }
        const signal = await signalSession(store, id, name, payload);
        out(values.json ? JSON.stringify(signal) : `sent ${signal.id} to ${id}`);
        return exitCodes.ok;
      }
      case 'tail':
        await tail(store, sessionId(required(args[0], 'session id')), {
          json: Boolean(values.json),
          write: out,
          say: (line) => process.stderr.write(`longrun: ${line}\n`),
        });
        return exitCodes.ok;
      case 'approvals': {
        const id = sessionId(required(args[0], 'session id'));
        const shown = await approvalsOutput(store, id, args[1], Boolean(values.json));
        for (const line of shown.lines) out(line);
        return shown.ok ? exitCodes.ok : exitCodes.failed;
      }
      case 'approve':
      case 'deny': {
        const decision = sub === 'approve' ? 'granted' : 'denied';
        const id = sessionId(required(args[0], 'session id'));
        const scope = values.scope ?? 'call';
        if (!isApprovalScope(scope))
          throw new UsageError(
            `--scope must be one of ${approvalScopes.join(', ')} (got ${JSON.stringify(scope)})\n\n${usage.sessions}`,
          );
        out(await decide(store, id, args[1], decision, values.reason ?? null, scope));
        return exitCodes.ok;
      }
      case 'cancel':
        out(await cancel(store, sessionId(required(args[0], 'session id')), values.reason ?? null));
        return exitCodes.ok;
      case 'resume':
        out(await resume(store, sessionId(required(args[0], 'session id')), values.reason ?? null));
        return exitCodes.ok;
      case 'message':
        out(
          await addMessage(
            store,
            sessionId(required(args[0], 'session id')),
            required(args[1], 'message text'),
          ),
        );
        return exitCodes.ok;
      case 'fork': {
        const source = sessionId(required(args[0], 'session id'));
        const atSeq = values.at === undefined ? undefined : intFlag(values.at, 'at', 0, { min: 1 });
        const fork = await forkSession(store, source, atSeq === undefined ? {} : { atSeq });
        out(
          values.json
            ? JSON.stringify(fork)
            : `forked ${source} at seq ${fork.headSeq} into ${fork.id} (${fork.status})`,
        );
        return exitCodes.ok;
      }
      case 'diff': {
        const id = sessionId(required(args[0], 'session id'));
        const seq = (flag: 'from' | 'to') =>
          values[flag] === undefined ? {} : { [`${flag}Seq`]: intFlag(values[flag], flag, 0) };
        const lines = await workspaceDiffLines(store, id, {
          ...seq('from'),
          ...seq('to'),
          text: values.text === true,
        });
        for (const line of lines) out(line);
        return exitCodes.ok;
      }
      case 'bundle': {
        const id = sessionId(required(args[0], 'session id'));
        const path = resolve(values.output ?? `${id}.bundle.tar.gz`);
        const bytes = await writeSessionBundle(store, id, path);
        out(
          values.json
            ? JSON.stringify({ sessionId: id, path, bytes })
            : `wrote ${path} (${bytes} bytes)`,
        );
        return exitCodes.ok;
      }
      default:
        throw new UsageError(
          `unknown sessions subcommand ${JSON.stringify(sub)}\n\n${usage.sessions}`,
        );
    }
  } finally {
    await store.close();
  }
}

/**
 * One line per session, newest first: id, status, agent, head seq, creation time and its task (the
 * first line of the task it was started with, cut at 60 characters), then why it is paused or failed.
 */
async function sessionLines(store: SessionStore, list: SessionRecord[]): Promise<string[]> {
  const tasks = await Promise.all(list.map((s) => taskOf(store, s.id)));
  return list.map((s, i) => {
    const reason = s.statusReason ? `  (${s.statusReason})` : '';
    const when = new Date(s.createdAtMs).toISOString();
    const head = `seq ${s.headSeq}`.padEnd(9);
    return `${s.id}  ${s.status.padEnd(9)}  ${s.agent.padEnd(14)} ${head} ${when}  ${tasks[i] ?? ''}${reason}`;
  });
}

/** The task a session was started with: `input.task` (what `run` and the API give), or the input. */
async function taskOf(store: SessionStore, id: SessionId): Promise<string> {
  const [created] = await store.readEvents(id, 0, 1);
  if (created?.type !== 'session.created') return '';
  const { input } = created.data;
  const task =
    typeof input === 'object' && input !== null && !Array.isArray(input) && 'task' in input
      ? input.task
      : input;
  const text = typeof task === 'string' ? task : JSON.stringify(task ?? null);
  const line = text.split('\n')[0] ?? '';
  return JSON.stringify(line.length > 60 ? `${line.slice(0, 59)}…` : line);
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) throw new UsageError(`missing ${what}\n\n${usage.sessions}`);
  return value;
}
