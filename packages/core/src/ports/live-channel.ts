/**
 * What crosses processes live (DESIGN §5, §10): a worker's model deltas as they stream, a
 * wake-up for each commit, and a session's end. Best effort by design: a note lost to a dropped
 * connection costs only latency — the durable log (and `model.streamed`) still has everything,
 * and readers still poll it.
 */
export type LiveNote =
  | {
      kind: 'delta';
      sessionId: string;
      step: number;
      attempt: number;
      /** Where `text` starts in the attempt's text so far, in UTF-16 units. */
      offset: number;
      text: string;
    }
  | {
      kind: 'committed';
      sessionId: string;
      /** The step whose model attempt these events ended, if they did. */
      endedStep: number | null;
    }
  | { kind: 'ended'; sessionId: string };

/**
 * A live channel between the processes of one deployment: in process (one `longrun dev`), or
 * Postgres LISTEN/NOTIFY (store-postgres) for workers and API nodes on many hosts.
 */
export interface LiveChannel {
  /** Sends a note, in order with the notes sent before it; never throws, never waits. */
  publish(note: LiveNote): void;
  /**
   * Calls `listener` with every note published from now on (also this process's own), across
   * dropped connections (notes sent while disconnected are lost). Resolves once listening;
   * the returned function unsubscribes.
   */
  subscribe(listener: (note: LiveNote) => void): Promise<() => void>;
  /** Sends what was published, then closes. */
  close(): Promise<void>;
}
