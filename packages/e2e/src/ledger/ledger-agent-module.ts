/**
 * The module `longrun worker --agents` loads to run the ledger agent (ledger-agent.ts) in a CLI
 * worker process, configured from its environment:
 *   LONGRUN_LEDGER_DIR   where its ledger, work file and workspaces go (required)
 *   LONGRUN_LEDGER_NAME  the agent's name (default `ledger`)
 */
import { ledgerAgent } from './ledger-agent.ts';

const dir = process.env.LONGRUN_LEDGER_DIR;
if (dir === undefined || dir === '') {
  throw new Error(
    'LONGRUN_LEDGER_DIR is not set: give the directory where the ledger agent keeps its ledger',
  );
}

export default ledgerAgent({ dir, name: process.env.LONGRUN_LEDGER_NAME ?? 'ledger' });
