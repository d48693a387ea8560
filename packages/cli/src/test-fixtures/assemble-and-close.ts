import { assembleDevParts } from './dev-parts.ts';

/**
 * Run as a process: assembles dev's parts over the store of argv[2], answers one request, and
 * closes them. The process must then end by itself; if something is still open 5 s later, it
 * lists what on stderr and exits 1.
 */
const url = process.argv[2];
if (url === undefined) throw new Error('give a store URL');
const running = await assembleDevParts(url);
const health = await fetch(`${running.served.url}/v1/health`);
await health.arrayBuffer();
await running.close();
setTimeout(() => {
  process.stderr.write(`still open: ${JSON.stringify(process.getActiveResourcesInfo())}\n`);
  process.exit(1);
}, 5_000).unref();
