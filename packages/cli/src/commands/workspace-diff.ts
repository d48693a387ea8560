import type { SessionId, SessionStore } from '@longrun/core';
import { sessionWorkspaceDiff, type SnapshotRef } from '@longrun/runtime';

const marks = { added: '+', removed: '-', changed: '~' } as const;

/** The lines of `longrun sessions diff`: a session's workspace changes between two snapshots. */
export async function workspaceDiffLines(
  store: SessionStore,
  id: SessionId,
  options: { fromSeq?: number; toSeq?: number; text?: boolean },
): Promise<string[]> {
  const { text, ...range } = options;
  const diff = await sessionWorkspaceDiff(store, id, { ...range, patches: text === true });
  const name = (s: SnapshotRef | null) =>
    s === null
      ? 'empty'
      : `seq ${s.seq} (step ${s.step}, ${s.manifestHash.slice(0, 12)}${s.edits === 0 ? '' : ` + ${s.edits} edits`})`;
  const lines = [`workspace of ${id}: ${name(diff.from)} → ${name(diff.to)}`];
  for (const c of diff.changes) {
    lines.push(`${marks[c.change]} ${c.path}  ${c.sizeBefore} → ${c.sizeAfter} bytes`);
    if (text === true) lines.push(c.patch ?? `  (no text diff: ${c.noPatchReason ?? ''})`);
  }
  if (diff.changes.length === 0) lines.push('no changes');
  return lines;
}
