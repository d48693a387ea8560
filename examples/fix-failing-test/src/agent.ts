import { fileURLToPath } from 'node:url';
import {
  copyIntoWorkspace,
  defineAgent,
  fileTools,
  shellTool,
  type AgentDefinition,
} from '@longrun/runtime';
import { modelFromEnv } from '@longrun/models';
import { replayModel } from './replay.ts';

const sampleRepo = fileURLToPath(new URL('../sample-repo', import.meta.url));

export interface FixFailingTestOptions {
  workspaceRoot?: string;
  /** Pause between streamed chunks of the offline replay, milliseconds. */
  replayChunkDelayMs?: number;
}

/**
 * Finds the failing test of a repository, reads the code, fixes it and re-runs the tests until
 * they pass. A real model when the environment names one; the offline replay otherwise.
 */
export function fixFailingTestAgent(options: FixFailingTestOptions = {}): AgentDefinition {
  return defineAgent({
    name: 'fix-failing-test',
    model: () =>
      modelFromEnv() ??
      replayModel(
        options.replayChunkDelayMs === undefined
          ? {}
          : { chunkDelayMs: options.replayChunkDelayMs },
      ),
    instructions: [
      'You are a careful software engineer working in a repository checked out in your workspace.',
      'Find out which tests fail and why, read the relevant code, make the smallest correct fix with edit_file,',
      'and re-run the tests with run_command until they pass. Do not change the tests unless they are wrong.',
      'When done, say in two sentences what was wrong and what you changed.',
    ].join(' '),
    tools: [...fileTools, shellTool({ timeoutMs: 60_000 })],
    maxSteps: 30,
    ...(options.workspaceRoot === undefined ? {} : { workspaceRoot: options.workspaceRoot }),
    // Copies the repository in once; a worker that takes the session over finds it already there.
    async prepareWorkspace(files) {
      if ((await files.stat('package.json')) === null) await copyIntoWorkspace(sampleRepo, files);
    },
  });
}
