import { fold, type Checkpoint, type StoredEvent } from '@longrun/core';
import { readCheckpoint, TranscriptBuilder } from '@longrun/runtime';

/**
 * Why a session's checkpoint does not read back as the state and the transcript its log gives
 * up to the checkpoint's seq, or null when it does: a resume from it then decides what a resume
 * from the whole log would. `events` is the session's log from seq 1.
 */
export function checkpointMismatch(
  events: readonly StoredEvent[],
  checkpoint: Checkpoint,
): string | null {
  const upTo = events.filter((e) => e.seq <= checkpoint.seq);
  if (upTo.length !== checkpoint.seq) return `is past the log's ${events.length} events`;
  const read = readCheckpoint(checkpoint.state, checkpoint.parts);
  if (read?.transcript == null) return `gives no transcript (${checkpoint.parts.length} parts)`;
  const built = new TranscriptBuilder();
  for (const e of upTo) built.apply(e);
  if (JSON.stringify(read.transcript) !== JSON.stringify(built.snapshot()))
    return "holds a transcript other than its log's";
  if (JSON.stringify(read.state) !== JSON.stringify(fold(upTo)))
    return "holds a state other than its log's";
  return null;
}
