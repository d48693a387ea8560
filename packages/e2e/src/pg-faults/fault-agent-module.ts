/**
 * The module `longrun worker --agents` loads in the fault suites: the fault agent (fault-agent.ts)
 * configured from the environment the test gives the worker process.
 *   LONGRUN_PGF_DIR            where the tools write what they did (required)
 *   LONGRUN_PGF_TOOL_MS        a tool's hold after its effect, `min-max` ms (default 100-400)
 *   LONGRUN_PGF_CHUNK_DELAY_MS pause before each text delta, ms (default 5)
 */
import { faultAgent } from './fault-agent.ts';

const dir = process.env.LONGRUN_PGF_DIR;
if (dir === undefined || dir === '') throw new Error('LONGRUN_PGF_DIR is not set');
const [toolMinMs = 100, toolMaxMs = 400] = (process.env.LONGRUN_PGF_TOOL_MS ?? '100-400')
  .split('-')
  .map(Number);

export default faultAgent({
  dir,
  toolMinMs,
  toolMaxMs,
  chunkDelayMs: Number(process.env.LONGRUN_PGF_CHUNK_DELAY_MS ?? 5),
});
