import { runBlobStoreContract } from '@longrun/workspace/testing';
import { openStore } from '@longrun/cli';
import { targets } from '../store-targets.ts';

// The session stores' own blob tables (the default blob store) pass the same contract as the
// directory and S3 stores of @longrun/workspace.
for (const target of targets) {
  if (!target.run) continue;
  runBlobStoreContract(`${target.name} session store`, async () => {
    const db = await target.make();
    const store = await openStore(db.url);
    return {
      store: store.blobs,
      close: async () => {
        await store.close();
        await db.drop();
      },
    };
  });
}
