import type { ManualClock, SessionStore } from '@longrun/core';

/** One empty database that a contract test may open several connections to. */
export interface ContractDatabase {
  /** Opens a store on this database (migrating it), with time taken from `clock`. */
  open(clock: ManualClock): Promise<SessionStore>;
  /** Records a schema version newer than this longrun knows, as a future longrun would. */
  writeNewerSchemaVersion(): Promise<void>;
  /** Removes the database and everything in it. */
  drop(): Promise<void>;
}

export interface ContractHarness {
  /** A fresh database, or `{ skip: reason }` when the backend cannot run here. */
  createDatabase(): Promise<ContractDatabase>;
}
