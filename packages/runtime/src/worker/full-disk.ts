import type { LongrunError, SessionId, SessionRecord, SessionStore } from '@longrun/core';
import { resumeSession } from '../agent/session-commands.ts';

/** How the reason of a session a full disk paused starts; the resumer finds them by it. */
export const fullDiskReasonStart = 'the disk holding the store is full';

/** The reason a session parked on a full disk shows (`longrun sessions show`, the API). */
export function fullDiskReason(error: LongrunError): string {
  return `${fullDiskReasonStart}: ${error.message} Nothing the session had committed is lost. longrun resumes it by itself once the disk has room again; free space on it (or resume it by hand: longrun sessions resume <id>).`;
}

/** Who the resumes in the log are by. */
const resumedBy = 'longrun (the disk has room again)';

export interface FullDiskResumerOptions {
  store: SessionStore;
  log: (level: 'info' | 'warn', msg: string, sessionId?: string) => void;
  /** Called after resumes were sent, so the worker claims at once. */
  wake: () => void;
  /** Between looks while sessions are known to be parked on a full disk. */
  checkEveryMs: number;
  /** Between looks otherwise (another worker's parks, a restart). */
  idleEveryMs: number;
}

/**
 * Resumes the sessions a full disk paused (any worker's: they are found by their reason) once the
 * disk has room: when the store's reserve can be set aside again (`StorageReserve.restore`), or,
 * for a store with none, when a resume's own write succeeds. Looks often while it knows of such
 * sessions. Otherwise, on a store with a reserve (SQLite: one disk, few sessions), at the start
 * and every `idleEveryMs`, for the parks of a worker that died since; on a store without one
 * (Postgres: many workers, maybe many paused sessions to page through), only after this worker
 * parked one.
 */
export class FullDiskResumer {
  readonly #o: FullDiskResumerOptions;
  #timer: NodeJS.Timeout | undefined;
  #known = false;
  #looking: Promise<void> | undefined;
  #stopped = false;

  constructor(options: FullDiskResumerOptions) {
    this.#o = options;
  }

  start(): void {
    if (this.#o.store.storageReserve !== undefined) this.#schedule(0);
  }

  /** A session was just parked on a full disk: look again soon. */
  parked(): void {
    this.#known = true;
    this.#schedule(this.#o.checkEveryMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#looking;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#looking = this.#look()
        .catch((error: unknown) =>
          this.#o.log('warn', `looking for sessions a full disk paused: ${String(error)}`),
        )
        .finally(() => {
          this.#looking = undefined;
          if (this.#known) this.#schedule(this.#o.checkEveryMs);
          else if (this.#o.store.storageReserve !== undefined) this.#schedule(this.#o.idleEveryMs);
        });
    }, delayMs).unref();
  }

  async #look(): Promise<void> {
    const { store } = this.#o;
    const parked = await parkedOnFullDisk(store);
    this.#known = parked.length > 0;
    if (!this.#known) return;
    if (store.storageReserve !== undefined && !store.storageReserve.restore()) return;
    let resumed = 0;
    for (const session of parked) {
      try {
        await resumeSession(store, session.id, { by: resumedBy, reason: fullDiskResumeReason });
        resumed++;
        this.#o.log('info', 'the disk has room again: resumed', session.id);
      } catch (error) {
        // Still full (no reserve to tell), or someone resumed or cancelled it meanwhile.
        this.#o.log('warn', `not resumed yet: ${(error as Error).message}`, session.id);
      }
    }
    if (resumed > 0) this.#o.wake();
  }
}

const fullDiskResumeReason = 'the disk holding the store has room again';

/** Every paused session whose reason is a full disk, page by page. */
async function parkedOnFullDisk(store: SessionStore): Promise<SessionRecord[]> {
  const found: SessionRecord[] = [];
  let afterId: SessionId | undefined;
  for (;;) {
    const page = await store.listSessions({
      status: 'paused',
      limit: 500,
      ...(afterId === undefined ? {} : { afterId }),
    });
    found.push(...page.filter((s) => s.statusReason?.startsWith(fullDiskReasonStart) === true));
    if (page.length < 500) return found;
    afterId = page.at(-1)?.id;
  }
}
