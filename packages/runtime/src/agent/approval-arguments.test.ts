import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { SqliteStore } from '@longrun/store-sqlite';
import { tempDir } from '../testing.ts';
import { keepLargeInputs } from '../tools/tool-inputs.ts';
import { argumentsShown, readWholeArguments } from './approval-arguments.ts';

/**
 * What a person is shown of an approval's arguments: whole ones as they are; a capped view read
 * back only when the blob store holds exactly the bytes the view's hash names.
 */
describe('the whole arguments of an approval', () => {
  const command = `ls -la${' '.repeat(40_000)}; echo HIDDEN-PAYLOAD-RAN`;
  const text = JSON.stringify({ command });
  const sha = createHash('sha256').update(text).digest('hex');

  async function keptCall() {
    const store = await SqliteStore.open({ path: join(tempDir('approval-args'), 'db.sqlite') });
    const [call] = await keepLargeInputs(
      [{ callIndex: 0, tool: 'run_command', args: { command } }],
      store.blobs,
      undefined,
      1,
      new Set(),
    );
    if (call?.inputRef === undefined) throw new Error('the arguments were not kept');
    return { store, approval: { approvalId: 'apr_1', args: call.args, inputRef: call.inputRef } };
  }

  it('reads a capped view back whole, and says how much of it the view shows', async () => {
    const { store, approval } = await keptCall();
    expect(argumentsShown(approval)).toEqual({
      complete: false,
      chars: text.length,
      shownChars: 8_000,
    });
    expect(await readWholeArguments(approval, store.blobs)).toEqual({
      arguments: { command },
      sha256: sha,
      chars: text.length,
      problem: null,
    });
    await store.close();
  });

  it('refuses bytes that are not the ones hashed, and a view that names another hash', async () => {
    const { store, approval } = await keptCall();
    // The store keeps whatever it is given under a name: a damaged copy is found by its hash.
    const other = await SqliteStore.open({ path: join(tempDir('approval-args'), 'db.sqlite') });
    await other.blobs.put(sha, new TextEncoder().encode(JSON.stringify({ command: 'ls -la' })));
    const damaged = await readWholeArguments(approval, other.blobs);
    expect(damaged.arguments).toBeNull();
    expect(damaged.problem?.code).toBe('CORRUPT');
    expect(damaged.problem?.message).toMatch(/other bytes under .*: deny it/);

    const forged = { ...approval, args: { kept_arguments: '[a view naming nothing]\nls -la' } };
    const unbound = await readWholeArguments(forged, store.blobs);
    expect(unbound.problem?.code).toBe('CORRUPT');
    expect(unbound.problem?.message).toMatch(/does not name the sha256/);
    await store.close();
    await other.close();
  });

  it('gives whole arguments as they are, with the sha256 of their JSON text', async () => {
    const { store } = await keptCall();
    const approval = { approvalId: 'apr_2', args: { command: 'ls' }, inputRef: null };
    expect(argumentsShown(approval)).toEqual({ complete: true, chars: 16, shownChars: 16 });
    expect(await readWholeArguments(approval, store.blobs)).toMatchObject({
      arguments: { command: 'ls' },
      sha256: createHash('sha256').update('{"command":"ls"}').digest('hex'),
      problem: null,
    });
    await store.close();
  });
});
