import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';

/** A sub-agent session's place in its tree: the session that started it and the tree's root. */
export interface SessionLineage {
  parentSessionId: string;
  rootSessionId: string;
}

/** Sessions whose lineage is remembered at once; the oldest is forgotten first. */
const remembered = 10_000;

/**
 * The lineage of sessions, read once from each one's `session.created` (it never changes) and
 * remembered, so every event the API hands out of a child session can carry its parent and root
 * session ids (`withLineage`) without a read per event.
 */
export class SessionLineages {
  readonly #store: SessionStore;
  readonly #known = new Map<string, SessionLineage | null>();

  constructor(store: SessionStore) {
    this.#store = store;
  }

  /** The lineage of session `id`; null for a root session. */
  async of(id: SessionId): Promise<SessionLineage | null> {
    const known = this.#known.get(id);
    if (known !== undefined) return known;
    const [created] = await this.#store.readEvents(id, 0, 1);
    const parent = created?.type === 'session.created' ? created.data.parent : undefined;
    const lineage =
      parent === undefined
        ? null
        : { parentSessionId: parent.sessionId, rootSessionId: parent.rootSessionId };
    // Only a session whose first event was read is known for good.
    if (created !== undefined) {
      if (this.#known.size >= remembered) {
        const oldest = this.#known.keys().next().value;
        if (oldest !== undefined) this.#known.delete(oldest);
      }
      this.#known.set(id, lineage);
    }
    return lineage;
  }
}

/** An event as the API hands it out: a child session's carries its parent and root ids. */
export function withLineage(
  e: StoredEvent,
  lineage: SessionLineage | null,
): StoredEvent | (StoredEvent & SessionLineage) {
  return lineage === null ? e : { ...e, ...lineage };
}
