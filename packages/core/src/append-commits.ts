/**
 * Appends a store committed, and the commits that carried them. A group commit carries the
 * appends of many sessions in one transaction, made durable once: appends / commits is how many
 * appends shared each fsync (SQLite) or each round trip and WAL flush (Postgres), so it says
 * whether commits group under load. Counted by the store object, in this process only.
 */
export interface AppendCommits {
  /** Commits that carried at least one append. */
  commits: number;
  /** Appends they carried (refused ones, a stale fence or a seq conflict, are not counted). */
  appends: number;
}

/** The running counts behind a store's `appendCommits()`. */
export class AppendCommitTally {
  #commits = 0;
  #appends = 0;

  /** One commit made `appends` appends durable; a commit that carried none is not counted. */
  committed(appends: number): void {
    if (appends <= 0) return;
    this.#commits++;
    this.#appends += appends;
  }

  counts(): AppendCommits {
    return { commits: this.#commits, appends: this.#appends };
  }
}
