import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from './store-url.ts';
import { background, longrun, waitFor } from './test-fixtures/cli-process.ts';
import { paddedCommand } from './test-fixtures/hidden-args-agent.ts';

const fixture = fileURLToPath(new URL('./test-fixtures/hidden-args-agent.ts', import.meta.url));

/**
 * `longrun sessions approvals`, as a subprocess, on a call whose arguments a prompt-injected model
 * padded past the log's 8,000-character view: the list warns that characters are not shown and
 * says how to print them all; the single approval prints them all, with the padding and the
 * right-to-left override written out, so the payload is on screen before anyone approves.
 */
describe('longrun sessions approvals', () => {
  it('warns of arguments not shown, prints them whole on request, hidden characters written out', async () => {
    const cwd = mkdtempSync(join(tmpdir(), 'longrun-approval-args-'));
    const run = background(['run', fixture, 'list files'], cwd);
    const store = await openStore(join(cwd, '.longrun/longrun.db'));
    try {
      const session = await waitFor(
        'a waiting session',
        async () => (await store.listSessions({ status: 'waiting' }))[0],
      );
      const id = session.id;
      const approvalId = (session.waitingFor ?? '').replace(/^approval:/, '');
      await waitFor('the read line', async () =>
        run.output().includes(`read:    longrun sessions approvals ${id} ${approvalId}`)
          ? true
          : undefined,
      );
      const whole = JSON.stringify({ command: paddedCommand });

      const list = longrun(['sessions', 'approvals', id], cwd);
      expect(list.status, list.stderr).toBe(0);
      expect(list.stdout).toContain(`${approvalId}  run_command  step 1 call 0`);
      expect(list.stdout).toContain(
        `⚠ ${(whole.length - 8_000).toLocaleString('en-US')} more characters not shown`,
      );
      expect(list.stdout).toContain(`longrun sessions approvals ${id} ${approvalId}`);
      expect(list.stdout).toContain('ls -la ⟨U+202E⟩txt.exe⟨7,973 spaces⟩');
      expect(list.stdout).not.toContain('\u202E');
      expect(list.stdout).not.toContain('HIDDEN-PAYLOAD-RAN');

      const one = longrun(['sessions', 'approvals', id, approvalId], cwd);
      expect(one.status, one.stderr).toBe(0);
      expect(one.stdout).toContain(
        '"command": "ls -la ⟨U+202E⟩txt.exe⟨40,000 spaces⟩; echo HIDDEN-PAYLOAD-RAN > /workspace/pwned"',
      );
      expect(one.stdout).not.toContain('\u202E');
      expect(one.stdout).toContain(`all ${whole.length.toLocaleString('en-US')} characters`);
      const sha = createHash('sha256').update(whole).digest('hex');
      expect(one.stdout).toContain(`sha256 of the whole arguments ${sha}`);
      // No line is padding: each fits a terminal's scrollback as one readable line.
      for (const line of one.stdout.split('\n')) expect(line.length).toBeLessThan(400);

      const json = longrun(['sessions', 'approvals', id, approvalId, '--json'], cwd);
      const body = JSON.parse(json.stdout) as {
        arguments: { command: string };
        sha256: string;
        approval: { argumentsComplete: boolean; argsHash: string };
      };
      expect(body.arguments.command).toBe(paddedCommand);
      expect(body.sha256).toBe(sha);
      expect(body.approval.argumentsComplete).toBe(false);

      // The event lines write the model's arguments out too.
      const show = longrun(['sessions', 'show', id], cwd);
      expect(show.stdout).toContain('⟨U+202E⟩');
      expect(show.stdout).not.toContain('\u202E');
      expect(show.stdout).toContain(`read its arguments: longrun sessions approvals <session>`);

      const unknown = longrun(['sessions', 'approvals', id, 'apr_nope'], cwd);
      expect(unknown.status).toBe(1);
      expect(unknown.stderr).toMatch(/no pending approval apr_nope .*pending: apr_/);

      expect(longrun(['sessions', 'approve', id, approvalId], cwd).status).toBe(0);
      expect(await run.exited, run.ending()).toBe(0);
      // The grant ran exactly the arguments printed whole.
      expect(readFileSync(join(cwd, '.longrun/workspaces', id, 'ran.txt'), 'utf8')).toBe(
        paddedCommand,
      );
      expect(longrun(['sessions', 'approvals', id], cwd).stdout).toBe(
        `no pending approvals in session ${id}\n`,
      );
    } finally {
      run.child.kill('SIGKILL');
      await store.close();
    }
  });
});
