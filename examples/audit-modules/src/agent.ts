import {
  defineAgent,
  listFilesTool,
  readFileTool,
  waitTools,
  writeFileTool,
  type AgentDefinition,
} from '@longrun/runtime';
import { modelFromEnv } from '@longrun/models';
import { auditorModel, evaluatorModel, signOffSignal } from './audit-script.ts';
import { progressFile, recordFinding, reportFile } from './audit-tools.ts';
import { defaultModuleCount, sampleModules } from './sample-modules.ts';

export interface AuditModulesOptions {
  workspaceRoot?: string;
  /** Modules in the repository the session audits (default 120: some 250 model steps). */
  moduleCount?: number;
  /** Pause between streamed chunks of the offline auditor, milliseconds (default 0). */
  chunkDelayMs?: number;
  /**
   * The offline auditor's context window in tokens (default 6,000): small, so that its
   * transcript is compacted every few dozen steps, as a real one is over hours.
   */
  windowTokens?: number;
}

/**
 * Audits every module of a repository one at a time and records a finding for each in
 * REPORT.md, for hundreds of steps: it keeps its queue in PROGRESS.md, its context is compacted
 * as it goes, it waits (holding no worker) for a person to sign the report off, and a
 * fresh-context evaluator checks the report against the repository before the session ends. A
 * real model when the environment names one; the offline script otherwise.
 */
export function auditModulesAgent(options: AuditModulesOptions = {}): AgentDefinition {
  const real = modelFromEnv();
  return defineAgent({
    name: 'audit-modules',
    model: () =>
      real ??
      auditorModel(
        options.chunkDelayMs === undefined ? {} : { chunkDelayMs: options.chunkDelayMs },
      ),
    instructions: [
      'You audit a repository module by module. List the modules under src/, write your plan to',
      `${progressFile} (a "## Queue" of module paths), then for each module read it and call`,
      `record_finding with what you found (eval on input, unfinished TODOs, or "clean");`,
      `record_finding keeps ${reportFile} and the queue and tells you what is next. Your context`,
      `is compacted as you go: ${progressFile} is your memory. When the queue is empty, wait for`,
      `the "${signOffSignal}" signal (a person reviews the report), then give a one-line summary.`,
    ].join(' '),
    tools: [listFilesTool, readFileTool, writeFileTool, recordFinding, ...waitTools()],
    maxSteps: 2_000,
    ...(real === null ? { context: { windowTokens: options.windowTokens ?? 6_000 } } : {}),
    outcome: {
      rubric: [
        `${reportFile} has a finding for every module under src/, generated ones included`,
        `${progressFile} records who signed the report off`,
      ],
      maxIterations: 3,
      evaluator: {
        instructions: `List src/, read ${reportFile} and ${progressFile}, and compare them yourself.`,
        commands: false,
        ...(real === null ? { model: evaluatorModel() } : {}),
      },
    },
    ...(options.workspaceRoot === undefined ? {} : { workspaceRoot: options.workspaceRoot }),
    // Writes the repository once; a worker that takes the session over finds it there.
    async prepareWorkspace(files) {
      if ((await files.stat('src')) !== null) return;
      for (const module of sampleModules(options.moduleCount ?? defaultModuleCount))
        await files.writeFile(module.path, module.content);
    },
  });
}
