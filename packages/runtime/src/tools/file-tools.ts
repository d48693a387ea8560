import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { z } from 'zod';
import { defineTool, type AgentTool } from '../agent/define-agent.ts';
import { capOutput } from './output-cap.ts';
import { workspacePath } from './workspace-path.ts';

const maxReadChars = 20_000;
const maxListEntries = 500;

export const readFileTool = defineTool({
  name: 'read_file',
  description: `Reads a text file of the workspace. Output is capped at ${maxReadChars} characters.`,
  input: z.object({ path: z.string().describe('path relative to the workspace') }),
  effect: 'pure',
  run: async ({ path }, { workspaceDir }) =>
    capOutput(readFileSync(workspacePath(workspaceDir, path), 'utf8'), maxReadChars),
});

export const writeFileTool = defineTool({
  name: 'write_file',
  description: 'Creates or replaces a text file of the workspace with the given content.',
  input: z.object({ path: z.string(), content: z.string() }),
  effect: 'idempotent',
  run: async ({ path, content }, { workspaceDir }) => {
    const target = workspacePath(workspaceDir, path);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, content);
    return `wrote ${Buffer.byteLength(content)} bytes to ${path}`;
  },
});

/**
 * Replaces one exact occurrence of `old_text`. Idempotent: run again after it applied (a resumed
 * step), it finds `new_text` instead and says so rather than failing or editing twice.
 */
export const editFileTool = defineTool({
  name: 'edit_file',
  description: 'Replaces exactly one occurrence of old_text with new_text in a workspace file.',
  input: z.object({ path: z.string(), old_text: z.string().min(1), new_text: z.string() }),
  effect: 'idempotent',
  run: async ({ path, old_text: oldText, new_text: newText }, { workspaceDir }) => {
    const target = workspacePath(workspaceDir, path);
    const text = readFileSync(target, 'utf8');
    const count = text.split(oldText).length - 1;
    if (count === 1) {
      writeFileSync(
        target,
        text.replace(oldText, () => newText),
      );
      return `edited ${path}`;
    }
    if (count === 0 && newText !== '' && text.includes(newText))
      return `${path} already contains the new text; nothing to do`;
    throw new Error(
      count === 0
        ? `old_text was not found in ${path}`
        : `old_text occurs ${count} times in ${path}; give more context so it occurs once`,
    );
  },
});

export const listFilesTool = defineTool({
  name: 'list_files',
  description: `Lists files under a workspace directory, recursively (at most ${maxListEntries}; node_modules and .git skipped).`,
  input: z.object({ path: z.string().default('.') }),
  effect: 'pure',
  run: async ({ path }, { workspaceDir }) => {
    const root = workspacePath(workspaceDir, path);
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (found.length >= maxListEntries) return;
        if (entry.name === 'node_modules' || entry.name === '.git') continue;
        const full = join(dir, entry.name);
        if (entry.isDirectory()) walk(full);
        else found.push(relative(workspaceDir, full));
      }
    };
    if (statSync(root).isDirectory()) walk(root);
    const more =
      found.length >= maxListEntries ? `\n[listing capped at ${maxListEntries} entries]` : '';
    return found.sort().join('\n') + more;
  },
});

export const fileTools: readonly AgentTool<never>[] = [
  readFileTool,
  writeFileTool,
  editFileTool,
  listFilesTool,
];
