import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { newWorkspace, removeWorkspaces, runsHere } from './bwrap-test-support.ts';
import {
  bindCap,
  fillCap,
  listCapMounts,
  mountCap,
  releaseCappedWorkspace,
  unmountAll,
} from './workspace-cap.ts';

afterAll(removeWorkspaces);

const root = process.getuid?.() === 0;
const me = { uid: 0, gid: 0 };

describe('the workspace cap', () => {
  it("releases over a dead worker's cap left bound on the same workspace: no EBUSY, nothing left mounted", async () => {
    if (!runsHere(root, 'root (mount)')) return;
    const base = newWorkspace('longrun-cap-');
    const workspaceDir = join(base, 'ses_1');
    mkdirSync(workspaceDir);
    writeFileSync(join(workspaceDir, 'a.txt'), 'from the log');
    const dead = join(base, 'staging-dead');
    const live = join(base, 'staging-live');
    mkdirSync(dead);
    mkdirSync(live);
    try {
      // The first worker capped the workspace and died with its sandbox open.
      await mountCap(dead, 1 << 20, me);
      await fillCap(dead, workspaceDir, 1 << 20, me);
      await bindCap(dead, workspaceDir);
      // The worker that took the session over caps it again, on top, and its agent writes.
      await mountCap(live, 1 << 20, me);
      await fillCap(live, workspaceDir, 1 << 20, me);
      await bindCap(live, workspaceDir);
      writeFileSync(join(workspaceDir, 'b.txt'), 'written after the takeover');
      await releaseCappedWorkspace(live, workspaceDir);
      expect(listCapMounts(base)).toEqual([]);
      expect(readdirSync(workspaceDir).sort()).toEqual(['a.txt', 'b.txt']);
      expect(readFileSync(join(workspaceDir, 'b.txt'), 'utf8')).toBe('written after the takeover');
      expect(existsSync(`${workspaceDir}.longrun-old`)).toBe(false);
    } finally {
      const left = listCapMounts(base).flatMap((m) => [m.workspaceDir ?? [], m.stagingDir].flat());
      await unmountAll(left).catch(() => undefined);
    }
  });
});
