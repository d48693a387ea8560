import { protectionsReport } from '@longrun/sandbox';
import { parseFlags, defaultStore } from '../args.ts';
import { openStore } from '../store-url.ts';
import { usage } from '../usage.ts';

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags(
    argv,
    { store: { type: 'string' }, json: { type: 'boolean' } },
    usage.doctor,
  );
  if (values.help) return (process.stdout.write(`${usage.doctor}\n`), 0);
  // A diagnosis makes nothing: a store that does not exist is said (exit 3), not created.
  const store = await openStore(values.store ?? defaultStore, { mustExist: true });
  try {
    const report = {
      store: store.kind,
      capabilities: store.capabilities,
      durability: store.durability(),
      sandbox: await protectionsReport(),
    };
    if (values.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const { durability } = report;
      process.stdout.write(`store: ${store.kind}\n`);
      process.stdout.write(
        `durability: ${durability.safe ? 'safe' : 'UNSAFE'} (${Object.entries(durability.settings)
          .map(([k, v]) => `${k}=${v}`)
          .join(', ')})\n`,
      );
      for (const note of durability.notes) process.stdout.write(`  note: ${note}\n`);
      process.stdout.write(
        `dead-worker detection: ${store.capabilities.connectionScopedLiveness ? "by heartbeats (each worker's --liveness-ms, default 5000): a worker that dies is taken over within ~100 ms when another worker runs on its host (which sees its process gone), else once its liveness period has passed since its last heartbeat (docs/durability.md)" : 'at process restart, or when the lease expires'}\n`,
      );
      for (const { driver, protections } of report.sandbox) {
        process.stdout.write(`sandbox driver ${driver}:\n`);
        for (const p of protections) {
          process.stdout.write(
            `  ${p.enforced ? 'enforced' : 'MISSING '} ${p.name}: ${p.reason}\n`,
          );
        }
      }
    }
    return report.durability.safe ? 0 : 1;
  } finally {
    await store.close();
  }
}
