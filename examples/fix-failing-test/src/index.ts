import { fixFailingTestAgent } from './agent.ts';

export { fixFailingTestAgent, type FixFailingTestOptions } from './agent.ts';
export { replayModel, replayTurns } from './replay.ts';

/** What `longrun run examples/fix-failing-test` and `longrun worker --agents …` load. */
export default fixFailingTestAgent();
