// A process that starts a private cluster and exits without stopping it, as a test that forgot
// stop() (or threw past it) would. The test of the exit hook runs it as a child and checks that
// the cluster is stopped and deleted anyway, and that the process said so loudly on stderr.
// Prints one JSON line on stdout: { pid, root } of the cluster it abandoned.
import { startPrivatePostgres } from './private-postgres.ts';

const cluster = await startPrivatePostgres();
console.log(JSON.stringify({ pid: cluster.pid, root: cluster.root }));
process.exit(0);
