import { tmpdir } from 'node:os';
import { ledgerAgent } from '../ledger/ledger-agent.ts';

/** The ledger agent for `longrun worker` in the takeover test: its files under the test's dir. */
export default ledgerAgent({ dir: process.env.LONGRUN_METRICS_LEDGER_DIR ?? tmpdir() });
