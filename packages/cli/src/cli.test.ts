import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isLongrunError } from '@longrun/core';
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
    const list = longrun(['sessions', 'list', '--json'], cwd);
    expect(JSON.parse(list.stdout)).toMatchObject([{ agent: 'ledger-demo', status: 'completed' }]);
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
    expect(events(fork.id).slice(1)).toEqual(events(source!.id).slice(1, 5));
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
    [['demo', '--steps', 'many'], 2, /--steps must be a non-negative integer/],
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
});
