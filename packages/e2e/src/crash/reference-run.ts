import { Worker, normalizeTranscript } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { JsonValue, SessionId, SessionStore } from '@longrun/core';
import type { StoreTarget } from '../store-targets.ts';
import { ledgerAgent } from '../ledger/ledger-agent.ts';

/** Polls until the session is in one of `statuses`, bounded by `timeoutMs`. */
export async function waitForStatus(
  store: SessionStore,
  id: SessionId,
  statuses: string[],
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await store.getSession(id);
    if (statuses.includes(s.status)) return;
    if (Date.now() > deadline)
      throw new Error(`session ${id} still ${s.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The transcript of an uninterrupted run of the ledger agent with this input. */
export async function referenceTranscript(
  make: () => Promise<StoreTarget>,
  input: JsonValue,
): Promise<string[]> {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const s = await store.createSession({ agent: 'ledger', input });
    const worker = new Worker({ store, agents: [ledgerAgent({ dir: target.dir })], pollMs: 5 });
    await worker.start();
    await waitForStatus(store, s.id, ['completed']);
    await worker.stop();
    return normalizeTranscript(await store.readEvents(s.id, 0, 100_000));
  } finally {
    await store.close();
    await target.drop();
  }
}
