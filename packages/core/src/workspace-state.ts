import type { NewEvent, StoredEvent } from './events.ts';

/**
 * One change to a workspace file, carried in the log instead of a stored manifest (DESIGN §6): a
 * call whose changes are a few small writes records them in its `tool.completed` event, and its
 * snapshot is the session's last stored manifest with every edit since applied in order. An agent
 * appending a line to a file then stores the line, not a manifest, a blob and their hashes.
 *
 * - `at` 0: the file's whole content is the bytes (it is created when absent);
 * - `at` the file's previous size: the bytes are appended to it.
 *
 * The bytes are `text` (UTF-8) or, when they are not valid UTF-8, `base64`. `mode` is given when
 * it is not the file's previous mode (0o644 for a new file). `removed` deletes a regular file.
 */
export type WorkspaceEdit =
  | { path: string; at: number; text: string; mode?: number }
  | { path: string; at: number; base64: string; mode?: number }
  | { path: string; removed: true };

/**
 * A session's workspace at some point of its log: the stored manifest `manifestHash` (the last
 * `workspace.snapshotted`) and the edits recorded since, oldest first. `step` is the step of the
 * last of them.
 */
export interface WorkspaceState {
  step: number;
  manifestHash: string;
  /** Absent or empty: the workspace is the manifest itself. */
  edits?: WorkspaceEdit[];
}

/**
 * The workspace after `event`: a `workspace.snapshotted` starts again from its manifest, a
 * `tool.completed` with `workspaceEdits` adds them; `undefined` when the event does not change it.
 * Edits with no stored manifest before them (which longrun never writes) are ignored.
 */
export function workspaceAfter(
  before: WorkspaceState | null,
  event: NewEvent,
): WorkspaceState | null | undefined {
  if (event.type === 'workspace.snapshotted')
    return { step: event.data.step, manifestHash: event.data.manifestHash };
  if (event.type !== 'tool.completed') return undefined;
  const added = event.data.workspaceEdits;
  if (added === undefined || added.length === 0 || before === null) return undefined;
  return {
    step: event.data.step,
    manifestHash: before.manifestHash,
    edits: [...(before.edits ?? []), ...added],
  };
}

/** How many edits lie on top of the state's stored manifest. */
export function editCount(state: WorkspaceState): number {
  return state.edits?.length ?? 0;
}

/** Where a workspace state was recorded: its event's seq, its step, its stored manifest, its edits. */
export type WorkspaceStateRef = {
  seq: number;
  step: number;
  manifestHash: string;
  /** Edits since that manifest (editCount). */
  edits: number;
};

/** Each workspace state `events` record (in order), with where it was recorded. */
export function workspaceStatesOf(
  events: readonly StoredEvent[],
): { ref: WorkspaceStateRef; state: WorkspaceState }[] {
  const states: { ref: WorkspaceStateRef; state: WorkspaceState }[] = [];
  let current: WorkspaceState | null = null;
  for (const e of events) {
    const next = workspaceAfter(current, e);
    if (next === undefined || next === null) continue;
    current = next;
    const ref = {
      seq: e.seq,
      step: next.step,
      manifestHash: next.manifestHash,
      edits: editCount(next),
    };
    states.push({ ref, state: next });
  }
  return states;
}
