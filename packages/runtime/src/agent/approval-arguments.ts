import { createHash } from 'node:crypto';
import type { BlobStore, JsonObject } from '@longrun/core';
import { keptViewChars } from '../tools/tool-inputs.ts';
import type { PendingApproval } from './session-commands.ts';

/**
 * What a person is shown of a pending approval's arguments, and the whole of them. A call whose
 * arguments were too large for the log has only a capped view in it (`keepLargeInputs`); the
 * approval binds to that view, which names the sha256 of the whole arguments' JSON text, so a
 * grant runs exactly the arguments read here. A person must be able to read all of them before
 * deciding: padding can push a payload past the view.
 */

type ArgumentsOf = Pick<PendingApproval, 'approvalId' | 'args' | 'inputRef'>;

/** How much of the whole arguments an approval's `args` shows. */
export interface ArgumentsShown {
  /** False when `args` is a capped view: some of the arguments are not in it. */
  complete: boolean;
  /** Characters of the whole arguments' JSON text. */
  chars: number;
  /** Characters of that text `args` shows (all of them when complete). */
  shownChars: number;
}

export function argumentsShown(approval: ArgumentsOf): ArgumentsShown {
  if (approval.inputRef === null) {
    const chars = JSON.stringify(approval.args).length;
    return { complete: true, chars, shownChars: chars };
  }
  const { chars } = approval.inputRef;
  return { complete: false, chars, shownChars: Math.min(chars, keptViewChars(approval.args) ?? 0) };
}

/**
 * Why the whole arguments cannot be given, a closed set (each message says what to do): past the
 * bound asked for; gone from the blob store; stored bytes or the view not matching the hash.
 */
export const wholeArgumentsProblems = ['TOO_LARGE', 'MISSING', 'CORRUPT'] as const;
export type WholeArgumentsProblem = (typeof wholeArgumentsProblems)[number];

export type WholeArguments = {
  /** The sha256 (hex) of the whole arguments' JSON text: the view an approval binds to names it. */
  sha256: string;
  /** Characters of that text. */
  chars: number;
} & (
  | { arguments: JsonObject; problem: null }
  | { arguments: null; problem: { code: WholeArgumentsProblem; message: string } }
);

/**
 * The whole arguments of a pending approval: its `args` when they are whole, else read back from
 * the blob store and checked against the sha256 both the call and its view name. `maxChars`
 * bounds what is read (an API answer); past it the arguments are not read and TOO_LARGE says so.
 */
export async function readWholeArguments(
  approval: ArgumentsOf,
  blobs: BlobStore,
  options: { maxChars?: number } = {},
): Promise<WholeArguments> {
  const { inputRef, approvalId } = approval;
  if (inputRef === null) {
    const text = JSON.stringify(approval.args);
    return { arguments: approval.args, sha256: sha256(text), chars: text.length, problem: null };
  }
  const known = { sha256: inputRef.hash, chars: inputRef.chars, arguments: null };
  const refused = (code: WholeArgumentsProblem, message: string): WholeArguments => ({
    ...known,
    problem: { code, message: `approval ${approvalId}: ${message}` },
  });
  const maxChars = options.maxChars ?? Infinity;
  if (inputRef.chars > maxChars) {
    return refused(
      'TOO_LARGE',
      `its whole arguments are ${inputRef.chars} characters, more than the ${maxChars} that can be shown here; deny it unless they can be read whole another way (\`longrun sessions approvals <session> ${approvalId}\` on a machine with the store prints them all)`,
    );
  }
  // The view is what the decision binds to: it must name the blob the call runs with.
  if (!JSON.stringify(approval.args).includes(inputRef.hash)) {
    return refused(
      'CORRUPT',
      `its arguments' view does not name the sha256 ${inputRef.hash} of the arguments the call would run with; the log was altered: deny it`,
    );
  }
  const bytes = await blobs.get(inputRef.hash);
  if (bytes === null) {
    return refused(
      'MISSING',
      `its whole arguments (blob ${inputRef.hash}) are missing from the blob store, so nobody can read them and the call cannot run with them: deny it, or restore the blob store from a backup`,
    );
  }
  const text = new TextDecoder().decode(bytes);
  const whole = sha256(bytes) === inputRef.hash ? parseObject(text) : null;
  if (whole === null) {
    return refused(
      'CORRUPT',
      `the blob store holds other bytes under ${inputRef.hash}, the sha256 of its whole arguments: deny it, and repair the blob store from a backup`,
    );
  }
  return { ...known, arguments: whole, problem: null };
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function parseObject(text: string): JsonObject | null {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as JsonObject)
      : null;
  } catch {
    return null;
  }
}
