// Runs as each public package's `prepack` (npm pack, npm publish), in the package's directory:
// copies the repository's LICENSE into the package, and refuses to pack a package whose built
// files (every `exports` target and `bin`) are missing — build first with `npm run build`.
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Manifest {
  name: string;
  exports?: Record<string, Record<string, string>>;
  bin?: Record<string, string>;
}

const packageDir = process.cwd();
const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as Manifest;
copyFileSync(join(import.meta.dirname, '..', 'LICENSE'), join(packageDir, 'LICENSE'));

const targets = [
  ...Object.values(manifest.exports ?? {}).flatMap((conditions) =>
    Object.entries(conditions)
      .filter(([condition]) => condition !== '@longrun/source')
      .map(([, target]) => target),
  ),
  ...Object.values(manifest.bin ?? {}),
];
const missing = targets.filter((target) => !existsSync(join(packageDir, target)));
if (missing.length > 0) {
  console.error(
    `prepack ${manifest.name}: not built (missing ${missing.join(', ')}); run npm run build at the repository's root first`,
  );
  process.exitCode = 1;
}
