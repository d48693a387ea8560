import { z } from 'zod';
import type { Tool } from '@longrun/core';
import { defineTool } from '../agent/define-agent.ts';
import { capOutput } from './output-cap.ts';

const maxReadChars = 20_000;
/** Bigger files are refused (FILE_TOO_LARGE) before a byte is read; the model is told how else. */
const maxReadBytes = 256 * 1024;
const maxEditBytes = 4 * 1024 * 1024;
const maxListEntries = 500;
const skippedDirs = ['node_modules', '.git'];

// Every tool here reaches the workspace only through `context.files`, the confined accessor:
// a link, FIFO, socket or device is refused with FILE_TYPE_REFUSED, an oversized file with
// FILE_TOO_LARGE, and the model sees the code and what to do instead.

export const readFileTool = defineTool({
  name: 'read_file',
  description: `Reads a text file of the workspace (at most ${maxReadBytes / 1024} KiB; use a command such as head, tail or grep for bigger files). Output is capped at ${maxReadChars} characters.`,
  input: z.object({ path: z.string().describe('path relative to the workspace') }),
  effect: 'pure',
  touches: ({ path }) => ({ reads: [path] }),
  run: async ({ path }, { files }) => {
    const bytes = await files.readFile(path, { maxBytes: maxReadBytes });
    return capOutput(Buffer.from(bytes).toString('utf8'), maxReadChars);
  },
});

export const writeFileTool = defineTool({
  name: 'write_file',
  description: 'Creates or replaces a text file of the workspace with the given content.',
  input: z.object({ path: z.string(), content: z.string() }),
  effect: 'idempotent',
  touches: ({ path }) => ({ writes: [path] }),
  run: async ({ path, content }, { files }) => {
    await files.writeFile(path, content);
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
  touches: ({ path }) => ({ writes: [path] }),
  run: async ({ path, old_text: oldText, new_text: newText }, { files }) => {
    const text = Buffer.from(await files.readFile(path, { maxBytes: maxEditBytes })).toString(
      'utf8',
    );
    const count = text.split(oldText).length - 1;
    if (count === 1) {
      await files.writeFile(
        path,
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

const typeNotes = {
  file: '',
  dir: '/',
  symlink: ' (symbolic link, not followed)',
  special: ' (special file)',
};

export const listFilesTool = defineTool({
  name: 'list_files',
  description: `Lists files under a workspace directory, recursively (at most ${maxListEntries}; ${skippedDirs.join(' and ')} not descended into).`,
  input: z.object({ path: z.string().default('.') }),
  effect: 'pure',
  touches: ({ path }) => ({ reads: [path] }),
  run: async ({ path }, { files }) => {
    const listing = await files.list(path, {
      recursive: true,
      skipDirs: skippedDirs,
      maxEntries: maxListEntries,
    });
    const lines = listing.entries
      .filter((entry) => entry.type !== 'dir')
      .map((entry) => `${entry.path}${typeNotes[entry.type]}`);
    const more = listing.truncated ? `\n[listing capped at ${maxListEntries} entries]` : '';
    return lines.join('\n') + more;
  },
});

export const fileTools: readonly Tool[] = [
  readFileTool,
  writeFileTool,
  editFileTool,
  listFilesTool,
];
