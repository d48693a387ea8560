#!/usr/bin/env node
// The `longrun` executable. It turns on the compile cache before anything else is loaded, so
// that the CLI and everything it imports (loaded below) is compiled once, not on every start.
import { enableCompileCache } from './compile-cache.ts';

enableCompileCache();
const { runCli } = await import('./cli.ts');
await runCli(process.argv.slice(2));
