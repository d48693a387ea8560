import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLongrunError, sessionId } from '@longrun/core';
import { openStore, parseStoreUrl } from './store-url.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

function longrun(
  args: string[],
  cwd: string,
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [main, ...args], {
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the longrun command', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'longrun-cli-'));

  it('runs the demo to completion, resumes it after a SIGKILL, and lists it', () => {
    const crashed = longrun(
      ['demo', '--steps', '6', '--delay-ms', '5', '--crash-at-step', '3'],
      cwd,
    );
    expect(crashed.code).toBeNull(); // killed by its own SIGKILL
    expect(crashed.stdout).toMatch(/SIGKILL now, with the tool call in flight/);
    const resumed = longrun(['demo', '--steps', '6', '--delay-ms', '5'], cwd);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/resuming at step 3/);
    expect(resumed.stdout).toMatch(/attempt 2: resumed after a crash, same idempotency key/);
    expect(resumed.stdout).toMatch(/completed: \d+ events, 6 tool calls recorded, 1 re-run/);
    // Steps 1, 3 and 5 are keyed ledger entries; step 3's, run twice, is applied once.
    expect(readdirSync(join(cwd, '.longrun', 'demo', 'ledger', 'applied'))).toHaveLength(3);
    const list = longrun(['sessions', 'list', '--json'], cwd);
    expect(JSON.parse(list.stdout)).toMatchObject([{ agent: 'ledger-demo', status: 'completed' }]);
  });

  it("replays the demo's bundle with no module given: the demo agent is longrun's own", () => {
    const [source] = JSON.parse(longrun(['sessions', 'list', '--json'], cwd).stdout) as {
      id: string;
    }[];
    const out = join(cwd, 'demo.bundle.tar.gz');
    expect(longrun(['sessions', 'bundle', source!.id, '-o', out], cwd).code).toBe(0);
    const replayed = longrun(['replay', out], cwd);
    expect(replayed.stderr).toBe('');
    expect(replayed.stdout).toMatch(/0 divergences/);
    expect(replayed.code).toBe(0);
  });

  it('forks the demo session at a seq into a new session that folds to the same state there', () => {
    const [source] = JSON.parse(longrun(['sessions', 'list', '--json'], cwd).stdout) as {
      id: string;
    }[];
    const r = longrun(['sessions', 'fork', source!.id, '--at', '5', '--json'], cwd);
    expect(r.stderr).toBe('');
    const fork = JSON.parse(r.stdout) as { id: string; headSeq: number; status: string };
    expect(fork).toMatchObject({ headSeq: 5, status: 'queued' });
    const events = (id: string) =>
      (
        JSON.parse(longrun(['sessions', 'show', id, '--json'], cwd).stdout) as {
          events: { type: string; data: unknown }[];
        }
      ).events.map(({ type, data }) => ({ type, data }));
    // The same events; a call's derived idempotency key is written out in the fork (the source's).
    const keyed = ({ type, data }: { type: string; data: unknown }) => {
      const d = data as { step: number; callIndex: number; idempotencyKey?: string };
      const key = d.idempotencyKey ?? `${source!.id}:${d.step}:${d.callIndex}`;
      return type === 'tool.started'
        ? { type, data: { ...d, idempotencyKey: key } }
        : { type, data };
    };
    expect(events(fork.id).slice(1)).toEqual(events(source!.id).slice(1, 5).map(keyed));
    expect(longrun(['sessions', 'show', fork.id], cwd).stdout).toMatch(
      new RegExp(`^seq +1 {2}session created: a fork of ${source!.id} at seq 5$`, 'm'),
    );
    const beyond = longrun(['sessions', 'fork', source!.id, '--at', '100000'], cwd);
    expect(beyond.code).toBe(2);
    expect(beyond.stderr).toMatch(/fork point 100000 is outside/);
  });

  it('reports the durability of the store', () => {
    const r = longrun(['doctor', '--json'], cwd);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      store: 'sqlite',
      durability: { safe: true, settings: { synchronous: 'FULL' } },
    });
  });

  it.each([
    [['frobnicate'], 2, /unknown command "frobnicate"/],
    [['demo', '--stepz', '3'], 2, /Unknown option '--stepz'/],
    [['demo', '--steps', 'many'], 2, /--steps must be an integer from 1 to 100000/],
    [['sessions', 'show', '../../etc/passwd'], 2, /session id must be/],
    [['sessions', 'show', 'ses_unknown'], 1, /session ses_unknown does not exist \[NOT_FOUND\]/],
    [
      ['sessions', 'list', '--store', 'mysql://x'],
      2,
      /unsupported scheme "mysql:" .*STORE_URL_INVALID/s,
    ],
    [['sessions', 'list', '--store', 'postgres://u:secret@127.0.0.1:1/db'], 3, /STORE_UNAVAILABLE/],
  ] as const)(
    'refuses %j with exit %i and a message that says what to do',
    (args, code, message) => {
      const r = longrun([...args], cwd);
      expect(r.code).toBe(code);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/secret/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack traces for expected errors
    },
  );
});

describe('store URLs', () => {
  const refused = [
    '',
    '   ',
    '://bad:url',
    ':x',
    'file:/x',
    'file:///tmp/x.db',
    'postgres://[::1',
    'redis://127.0.0.1/0',
    'sqlite:',
    'sqlite://',
    'data:1.db',
    'bad\nname.db',
  ];

  it('refuses URLs that do not parse, with the expected forms, and makes nothing on disk', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-urls-'));
    const before = process.cwd();
    process.chdir(cwd);
    try {
      for (const url of refused) {
        expect(() => parseStoreUrl(url), JSON.stringify(url)).toThrow();
        const error = await openStore(url).catch((e: unknown) => e);
        expect(isLongrunError(error, 'STORE_URL_INVALID'), JSON.stringify(url)).toBe(true);
        expect((error as Error).message).toMatch(/SQLite file .* or a PostgreSQL URL/);
      }
    } finally {
      process.chdir(before);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('takes PostgreSQL URLs, sqlite: URLs, :memory: and plain paths', () => {
    expect(parseStoreUrl('postgres://u@h:5432/db?schema=s')).toMatchObject({ kind: 'postgres' });
    expect(parseStoreUrl('postgresql://u@h/db')).toMatchObject({ kind: 'postgres' });
    expect(parseStoreUrl('sqlite:///abs/x.db')).toEqual({ kind: 'sqlite', path: '/abs/x.db' });
    expect(parseStoreUrl('sqlite:rel.db')).toEqual({ kind: 'sqlite', path: resolve('rel.db') });
    expect(parseStoreUrl(':memory:')).toEqual({ kind: 'sqlite', path: ':memory:' });
    expect(parseStoreUrl('./data:1.db')).toEqual({ kind: 'sqlite', path: resolve('data:1.db') });
    expect(parseStoreUrl('.longrun/x.db')).toEqual({
      kind: 'sqlite',
      path: resolve('.longrun/x.db'),
    });
  });

  it.each(['://bad:url', 'file:/x', ''])(
    'longrun sessions list --store %j exits 2 with a message, and makes no directory',
    (url) => {
      const cwd = mkdtempSync(join(tmpdir(), 'longrun-badurl-'));
      const r = longrun(['sessions', 'list', '--store', url], cwd);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^longrun: .*STORE_URL_INVALID\]\n$/);
      expect(readdirSync(cwd)).toEqual([]);
    },
  );

  it.each([
    [['sessions', 'list']],
    [['sessions', 'list', '--store', 'nonexistent/x.db']],
    [['sessions', 'show', 'ses_x', '--store', 'ops/typo/dir/other.db']],
    [['sessions', 'tail', 'ses_x', '--store', 'sqlite:typo/x.db']],
    [['sessions', 'diff', 'ses_x', '--store', 'typo/x.db']],
    [['sessions', 'bundle', 'ses_x', '--store', 'typo/x.db']],
    [['sessions', 'cancel', 'ses_x', '--store', 'typo/x.db']],
    [['keys', 'list', '--store', 'typo/x.db']],
    [['schedules', 'list', '--store', 'typo/x.db']],
    [['schedules', 'show', 'sch_x', '--store', 'typo/x.db']],
    [['doctor', '--store', 'typo/x.db']],
  ])('%j on a SQLite file that does not exist exits 3 and creates nothing', (args) => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-nostore-'));
    const r = longrun([...args], cwd);
    expect(r.stderr).toMatch(
      /^longrun: no store at \/.*\.db: the SQLite file does not exist \(nothing was created\)\. Check --store .*\[STORE_UNAVAILABLE\]\n$/,
    );
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('a store cut to 0 bytes is said, not taken for a new one: nothing is changed', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-emptystore-'));
    const db = join(cwd, 'x.db');
    writeFileSync(db, '');
    const listed = longrun(['sessions', 'list', '--store', db], cwd);
    expect(listed.stderr).toMatch(
      /^longrun: no store at \/.*x\.db: the SQLite file is empty \(0 bytes\), so it holds no sessions \(nothing was changed\)\. .*\[STORE_UNAVAILABLE\]\n$/,
    );
    expect(listed.code).toBe(3);
    expect(readFileSync(db)).toHaveLength(0);
    // With its write-ahead log beside it, even a command that creates stores refuses it.
    writeFileSync(`${db}-wal`, Buffer.alloc(4096, 7));
    const created = longrun(['keys', 'create', '--store', db, '--tenant', 't1'], cwd);
    expect(created.stderr).toMatch(
      /the SQLite store .*x\.db is damaged: the database file is empty \(0 bytes\) while its write-ahead log .*x\.db-wal holds 4096 bytes\. Nothing was changed\./,
    );
    expect(created.code).toBe(3);
    expect(readFileSync(db)).toHaveLength(0);
    expect(readFileSync(`${db}-wal`)).toHaveLength(4096);
  });

  it('says a mistyped subcommand (exit 2) before it looks for the store', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-badsub-'));
    const r = longrun(['sessions', 'frob', '--store', 'typo/x.db'], cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^longrun: unknown sessions subcommand "frob"\n/);
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('creates the store where a command makes something in it (keys create, schedules create)', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-makestore-'));
    const key = longrun(['keys', 'create', '--tenant', 't', '--store', 'new/k.db'], cwd);
    expect(key.code).toBe(0);
    expect(longrun(['keys', 'list', '--store', 'new/k.db'], cwd).stdout).toMatch(/tenant t /);
    const made = longrun(
      ['schedules', 'create', '--agent', 'a', '--cron', '0 * * * *', '--store', 'new/s.db'],
      cwd,
    );
    expect(made.code).toBe(0);
    expect(readdirSync(join(cwd, 'new'))).toEqual(expect.arrayContaining(['k.db', 's.db']));
  });

  it('refuses a --store file that is not a SQLite database with exit 3, not INTERNAL, and leaves it as it was', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-notadb-'));
    const text = 'not a database\n'.repeat(100);
    writeFileSync(join(cwd, 'text.db'), text);
    for (const args of [
      ['sessions', 'list', '--store', 'text.db'],
      ['keys', 'create', '--tenant', 't', '--store', 'text.db'],
    ]) {
      const r = longrun(args, cwd);
      expect(r.stderr).toMatch(
        /^longrun: opening SQLite database \/.*text\.db: file is not a database\. This file is not a SQLite store longrun made, or it is damaged: check the path \(--store\).* \[STORE_UNAVAILABLE\]\n$/,
      );
      expect(r.code).toBe(3);
    }
    expect(readFileSync(join(cwd, 'text.db'), 'utf8')).toBe(text);
  });
});

describe('the command line, at its edges', () => {
  const answerAgent = fileURLToPath(new URL('./test-fixtures/answer-agent.ts', import.meta.url));

  it('a worker without agents says it runs nothing; the start line names the agents it runs', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-noagents-'));
    const { background, waitFor } = await import('./test-fixtures/cli-process.ts');
    for (const [args, agents] of [
      [[], []],
      [['--agents', answerAgent], ['answer-fixture']],
    ] as const) {
      const worker = background(['worker', '--no-schedules', ...args], cwd);
      try {
        const line = await waitFor(
          'the start line',
          async () => /\{[^\n]*"worker started"[^\n]*\}/.exec(worker.output())?.[0],
        );
        expect((JSON.parse(line) as { agents: string[] }).agents).toEqual(agents);
        if (agents.length === 0)
          expect(worker.output()).toMatch(/has no agents, so it runs no session.*--agents/);
        else expect(worker.output()).not.toMatch(/has no agents/);
      } finally {
        worker.child.kill('SIGTERM');
        await worker.exited;
      }
    }
  });

  it('prints its version', () => {
    const r = longrun(['--version'], tmpdir());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^longrun \d+\.\d+\.\d+\n$/);
  });

  it('runs for a tenant; tail shows the whole model message; list is newest first with tasks', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-edges-'));
    const first = longrun(['run', answerAgent, 'Write the first answer.'], cwd);
    expect(first.code).toBe(0);
    const r = longrun(
      ['run', answerAgent, 'Answer for acme.\nSecond line.', '--tenant', 'acme'],
      cwd,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = /session (ses_\w+)/.exec(r.stdout)?.[1] ?? '';
    const store = await openStore(join(cwd, '.longrun/longrun.db'));
    expect((await store.getSession(sessionId(id))).tenantId).toBe('acme');
    await store.close();

    const tail = longrun(['sessions', 'tail', id], cwd);
    expect(tail.code).toBe(0);
    expect(tail.stdout).toMatch(
      /^seq +\d+ {2}step 1 {2}model: The first line of a long answer\.\n {10}The second line, said in full\.\n {10}The end\.$/m,
    );

    const list = longrun(['sessions', 'list'], cwd).stdout.trimEnd().split('\n');
    expect(list).toHaveLength(2);
    expect(list[0]).toMatch(new RegExp(`^${id} +completed .*"Answer for acme\\."$`));
    expect(list[1]).toMatch(/ "Write the first answer\."$/);

    const bad = longrun(['run', answerAgent, 'x', '--tenant', '../x'], cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/tenant id must be/);
  });

  it.each([
    [['dev', '--port', '99999'], /--port must be an integer from 0 to 65535 \(got "99999"\)/],
    [['serve', '--port', '7o7o'], /--port must be an integer from 0 to 65535 \(got "7o7o"\)/],
    [['worker', '--concurrency', '0'], /--concurrency must be an integer from 1 to 10000/],
    [['worker', '--lease-ms', '5'], /--lease-ms must be an integer from 100 to 86400000/],
    [['worker', '--liveness-ms', '10'], /--liveness-ms must be an integer of at least 500/],
    [['sessions', 'list', '--limit', '0'], /--limit must be an integer from 1 to 1000/],
    [['demo', '--steps', '0'], /--steps must be an integer from 1 to 100000/],
    [['dev', '--sandbox-pool', '5000'], /--sandbox-pool must be an integer from 0 to 1024/],
  ])('%j exits 2 with a message, at once', (args, message) => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-flags-'));
    const startedAt = Date.now();
    const r = longrun(args, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(Date.now() - startedAt).toBeLessThan(20_000);
  });

  it('refuses a port in use with INVALID_ARGUMENT, exit 2 and the flag to change (dev, serve, worker)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-port-'));
    const taken = createServer();
    await new Promise<void>((ready) => taken.listen(0, '127.0.0.1', ready));
    const port = String((taken.address() as AddressInfo).port);
    try {
      for (const [args, flag] of [
        [['dev', '--port', port], '--port'],
        [['serve', '--port', port, '--store', 'a.db'], '--port'],
        [['worker', '--metrics-port', port, '--store', 'a.db'], '--metrics-port'],
      ] as const) {
        const r = longrun([...args], cwd);
        // `dev` here has no agents to run: its worker's log warns of that first, as a JSON line.
        const said = r.stderr
          .split('\n')
          .filter((line) => !line.startsWith('{"level":"warn"'))
          .join('\n');
        expect(said).toMatch(
          new RegExp(
            `^longrun: cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use .*Pick another ${flag}, or ${flag} 0 for a free one.* \\[INVALID_ARGUMENT\\]\\n$`,
          ),
        );
        expect(r.code).toBe(2);
      }
    } finally {
      taken.close();
    }
  });

  it('runs with a budget, shows its use, and refuses a change to a finished session', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-budget-'));
    const r = longrun(['run', answerAgent, 'Answer.', '--steps', '5', '--tool', 'shell=2'], cwd);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const id = /session (ses_\w+)/.exec(r.stdout)?.[1] ?? '';
    const show = longrun(['sessions', 'show', id], cwd);
    expect(show.stdout).toMatch(/^budget:$/m);
    // The flags are the local admin's, and the log says so (not the agent's).
    expect(show.stdout).toMatch(
      /budget set by cli: \{"steps":5,"toolCallsPerTool":\{"shell":2\}\}/,
    );
    expect(show.stdout).toMatch(/^ {2}steps +1 of 5 {2}\(4 left\)$/m);
    expect(show.stdout).toMatch(/^ {2}toolCallsPerTool\.shell +0 of 2 {2}\(2 left\)$/m);
    const finished = longrun(['sessions', 'budget', id, '--steps', '10'], cwd);
    expect(finished.code).toBe(1);
    expect(finished.stderr).toMatch(
      /is completed; a budget applies only to a session that can still run/,
    );
    expect(longrun(['sessions', 'budget', id], cwd).stderr).toMatch(/name a limit to change/);
    const bad = longrun(['sessions', 'budget', id, '--cost-usd', 'lots'], cwd);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--cost-usd must be a number or none/);
  });

  it('exits 0 quietly when its reader goes away (piped into head)', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-epipe-'));
    const db = join(cwd, 'many.db');
    const store = await openStore(db);
    // ~1,000 lines of output: far more than a pipe holds, so writes meet a closed pipe.
    for (let i = 0; i < 1_000; i++)
      await store.createSession({ agent: 'a', input: { task: `t${i}` } });
    await store.close();
    const piped = spawnSync(
      'bash',
      [
        '-c',
        'set -o pipefail; "$0" "$1" sessions list --limit 1000 --store "$2" | head -n 1',
        process.execPath,
        main,
        db,
      ],
      { cwd, encoding: 'utf8', timeout: 60_000 },
    );
    expect(piped.stderr).toBe('');
    expect(piped.status).toBe(0);
    expect(piped.stdout).toMatch(/^ses_\w+ +queued/);
    expect(piped.stdout.trimEnd().split('\n')).toHaveLength(1);
  });
});
