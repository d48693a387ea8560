import {
  sessionId as toSessionId,
  terminalStatuses,
  type Checkpoint,
  type SessionRecord,
  type SessionStatus,
  type StoredEvent,
} from '@longrun/core';
import { PostgresStore } from '@longrun/store-postgres';
import { faultAgentName, type FaultSessionInput } from './fault-agent.ts';
import type { FaultSession } from './fault-invariants.ts';

/** Statuses after which a session does not move without a person: finished, or parked. */
const settled: readonly SessionStatus[] = [...terminalStatuses, 'paused'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The test's own view of the store, straight to Postgres (never through a fault proxy): it
 * creates the sessions (idempotently, so a creation retried across a restart makes one), keeps
 * a number of them in progress, and reads every session's new events a few times a second. What
 * it reads was committed; the final logs must still hold all of it (`observed`), whatever
 * crashed in between.
 */
export class RunObserver {
  readonly sessions: FaultSession[] = [];
  readonly observed: StoredEvent[] = [];
  readonly #store: PostgresStore;
  readonly #steps: number;
  readonly #heads = new Map<string, number>();
  readonly #status = new Map<string, SessionStatus>();
  #polling: Promise<void> | null = null;
  #stopped = false;
  /** Sessions to keep in progress, and until when (performance.now()). */
  #keep = { count: 0, untilMs: 0 };
  /** Errors of the store while Postgres was down; counted, not fatal. */
  failedPolls = 0;

  private constructor(store: PostgresStore, steps: number) {
    this.#store = store;
    this.#steps = steps;
  }

  static async open(url: string, steps: number): Promise<RunObserver> {
    const store = await PostgresStore.open({
      url,
      applicationName: 'longrun-fault-observer',
      waitForServerMs: 30_000,
    });
    return new RunObserver(store, steps);
  }

  get store(): PostgresStore {
    return this.#store;
  }

  /** Starts reading; keeps `count` sessions unsettled until `forMs` from now. */
  start(count: number, forMs: number): void {
    this.#keep = { count, untilMs: performance.now() + forMs };
    this.#polling ??= this.#poll();
  }

  /** Sessions not yet completed, failed, cancelled or paused (by the last read). */
  unsettled(): number {
    return this.openIds().length;
  }

  openIds(): string[] {
    return this.sessions
      .filter((s) => !settled.includes(this.#status.get(s.id) ?? 'queued'))
      .map((s) => s.id);
  }

  /** The records of `ids` (default: every session), read in pages the store accepts. */
  async records(ids: readonly string[] = this.sessions.map((s) => s.id)): Promise<SessionRecord[]> {
    const records: SessionRecord[] = [];
    for (let at = 0; at < ids.length; at += 1_000) {
      const page = ids.slice(at, at + 1_000).map((id) => toSessionId(id));
      records.push(...(await this.#store.getSessions(page)));
    }
    return records;
  }

  /** Resolves once every session is settled; false if that takes longer than `timeoutMs`. */
  async drained(timeoutMs: number): Promise<boolean> {
    this.#keep.untilMs = 0;
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      if (this.unsettled() === 0 && this.sessions.length > 0) return true;
      await sleep(100);
    }
    return false;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#polling;
  }

  async close(): Promise<void> {
    await this.stop();
    await this.#store.close();
  }

  /** Every session's whole log, record and checkpoint, read after the run. */
  async finalState(): Promise<{
    events: Map<string, StoredEvent[]>;
    records: Map<string, SessionRecord>;
    checkpoints: Map<string, Checkpoint | null>;
  }> {
    const events = new Map<string, StoredEvent[]>();
    const checkpoints = new Map<string, Checkpoint | null>();
    for (const s of this.sessions) {
      const id = toSessionId(s.id);
      events.set(s.id, await this.#store.readEvents(id, 0, 100_000));
      checkpoints.set(s.id, await this.#store.latestCheckpoint(id));
    }
    const records = new Map((await this.records()).map((r) => [String(r.id), r]));
    return { events, records, checkpoints };
  }

  async #poll(): Promise<void> {
    while (!this.#stopped) {
      try {
        await this.#topUp();
        await this.#readNew();
      } catch {
        this.failedPolls++;
      }
      await sleep(200);
    }
  }

  async #topUp(): Promise<void> {
    if (performance.now() > this.#keep.untilMs) return;
    for (let missing = this.#keep.count - this.unsettled(); missing > 0; missing--) {
      const name = `s${this.sessions.length}`;
      const input: FaultSessionInput = { name, steps: this.#steps };
      const created = await this.#store.createSession({
        agent: faultAgentName,
        input,
        idempotencyKey: name,
        requestHash: name,
      });
      this.sessions.push({ id: String(created.id), name, steps: this.#steps });
      this.#status.set(String(created.id), created.status);
    }
  }

  async #readNew(): Promise<void> {
    const open = this.openIds();
    for (const r of await this.records(open)) this.#status.set(String(r.id), r.status);
    for (const id of open) {
      const head = this.#heads.get(id) ?? 0;
      const page = await this.#store.readEvents(toSessionId(id), head, 1_000);
      this.observed.push(...page);
      if (page.length > 0) this.#heads.set(id, page.at(-1)?.seq ?? head);
    }
  }
}
