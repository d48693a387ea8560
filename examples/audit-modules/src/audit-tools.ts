import { z } from 'zod';
import { defineTool, type AgentToolContext } from '@longrun/runtime';

export const reportFile = 'REPORT.md';
export const progressFile = 'PROGRESS.md';

const decoder = new TextDecoder();

async function readText(context: AgentToolContext, path: string): Promise<string> {
  if ((await context.files.stat(path)) === null) return '';
  return decoder.decode(await context.files.readFile(path));
}

/** The queue of modules still to audit, as PROGRESS.md lists them under `## Queue`. */
export function queueOf(progress: string): string[] {
  const section = progress.split('## Queue')[1]?.split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .map((line) => line.replace(/^- /, '').trim())
    .filter((line) => line.startsWith('src/'));
}

/** Who signed the report off, as PROGRESS.md records it; null before anyone did. */
export function signedOffBy(progress: string): string | null {
  const match = /^Signed off by: (.+)$/m.exec(progress);
  const by = match?.[1]?.trim();
  return by === undefined || by === '(nobody yet)' ? null : by;
}

/** How generated modules are treated, as PROGRESS.md says: skipped (default) or reviewed. */
export type GeneratedPolicy = 'skip' | 'review';

export function generatedPolicyOf(progress: string): GeneratedPolicy {
  return /^Generated modules: review$/m.test(progress) ? 'review' : 'skip';
}

/** The progress file: who signed the report off, how generated code is treated, the queue. */
export function progressText(
  queue: readonly string[],
  signedOff: string | null,
  generated: GeneratedPolicy,
): string {
  return [
    '# Audit progress',
    '',
    `Signed off by: ${signedOff ?? '(nobody yet)'}`,
    `Generated modules: ${generated}`,
    '',
    '## Queue',
    ...queue.map((path) => `- ${path}`),
    '',
  ].join('\n');
}

/**
 * Records the finding for one module: its line in REPORT.md (replaced if the module had one) and
 * the module taken off the queue in PROGRESS.md. Running it again changes nothing more
 * (idempotent). Answers with what is next, so the agent needs nothing else to go on.
 */
export const recordFinding = defineTool({
  name: 'record_finding',
  description: `Records the audit finding of one module in ${reportFile} and takes it off the queue in ${progressFile}; answers with the next module to audit.`,
  input: z.object({
    module: z.string().describe('The module path, e.g. src/mod-001.js'),
    finding: z.string().describe('What the audit found, or "clean"'),
  }),
  effect: 'idempotent',
  run: async ({ module, finding }, context) => {
    const report = (await readText(context, reportFile))
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith(`- ${module}:`));
    report.push(`- ${module}: ${finding}`);
    report.sort();
    await context.files.writeFile(reportFile, `${report.join('\n')}\n`);
    const progress = await readText(context, progressFile);
    const queue = queueOf(progress).filter((path) => path !== module);
    const signedOff = signedOffBy(progress);
    const generated = generatedPolicyOf(progress);
    await context.files.writeFile(progressFile, progressText(queue, signedOff, generated));
    return {
      recorded: module,
      reported: report.length,
      remaining: queue.length,
      next: queue[0] ?? null,
      signedOffBy: signedOff,
      generatedModules: generated,
    };
  },
});
