/**
 * The offline models of the audit example: deterministic functions of what each call is given,
 * so a worker that resumes the session (or one that took it over) answers exactly the same.
 *
 * The auditor reads only what a real model would see: the transcript it is sent, which
 * compaction shortens as the session goes. What it must remember across compactions is in the
 * progress file, which its own tool answers from (`record_finding` says what is next and who
 * signed off) — the progress-file pattern. Its first pass takes a shortcut a hurried agent
 * might: it skips generated modules. The evaluator, which checks the workspace itself, catches
 * that; the auditor then audits what the feedback names.
 */
import type { ModelMessage, ModelRequest, JsonObject, JsonValue } from '@longrun/core';
import { scriptedModel, type ScriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { findingFor, isGenerated } from './sample-modules.ts';
import { progressFile, progressText, reportFile } from './audit-tools.ts';

export const signOffSignal = 'sign-off';

/** A tool result or argument as text: a string as it is, anything else as JSON. */
function text(value: JsonValue | undefined): string {
  return typeof value === 'string' ? value : JSON.stringify(value ?? '');
}

function lastToolResult(messages: readonly ModelMessage[]) {
  const last = messages.at(-1);
  if (last?.role !== 'tool') return null;
  const result = last.results.at(-1);
  return result ?? null;
}

/** The assistant call that `result` answers. */
function callOf(messages: readonly ModelMessage[], id: string) {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === 'assistant') {
      const call = m.toolCalls.find((c) => c.id === id);
      if (call !== undefined) return call;
    }
  }
  return null;
}

let callCounter = 0;
const call = (name: string, args: JsonObject, text = ''): ScriptedTurn => ({
  text,
  toolCalls: [{ id: `audit_${++callCounter}`, name, args }],
});

function isSummaryRequest(request: ModelRequest): boolean {
  const last = request.messages.at(-1);
  return (
    request.toolChoice === 'none' &&
    last?.role === 'user' &&
    last.content.startsWith('Summarize the conversation above')
  );
}

/** A summary of the older part of the transcript, as a summary model would write it. */
function summaryOf(messages: readonly ModelMessage[]): ScriptedTurn {
  const recorded = messages.flatMap((m) =>
    m.role === 'tool' ? m.results.filter((r) => r.name === 'record_finding') : [],
  );
  const last = recorded.at(-1)?.output as { next?: string | null } | undefined;
  return {
    text: [
      `Task: audit every module under src/ and record a finding for each in ${reportFile}.`,
      `Done so far: ${recorded.length} modules recorded in this part of the session.`,
      `The queue and the sign-off are kept in ${progressFile}; record_finding answers with the next module.`,
      last?.next ? `Next: read ${last.next}.` : '',
    ]
      .filter((line) => line !== '')
      .join('\n'),
  };
}

/** The auditor's next turn. */
export function auditorTurn(request: ModelRequest): ScriptedTurn {
  const messages = request.messages;
  if (isSummaryRequest(request)) return summaryOf(messages.slice(0, -1));
  const last = messages.at(-1);
  // The evaluator's feedback: queue what it says is missing, keep the sign-off.
  if (last?.role === 'user' && last.content.includes('[FAIL]')) {
    const missing = [...new Set(last.content.match(/src\/mod-\d+\.js/g) ?? [])];
    // The sign-off, from the answer the evaluator judged (the turn just before its feedback).
    const answer = messages.findLast((m) => m.role === 'assistant');
    const signedOff =
      answer?.role === 'assistant' ? /signed off by ([^.;]+)\./.exec(answer.text)?.[1] : undefined;
    return call(
      'write_file',
      { path: progressFile, content: progressText(missing, signedOff ?? null, 'review') },
      `The evaluator found ${missing.length} modules missing from the report. Queuing them.`,
    );
  }
  const result = lastToolResult(messages);
  if (result === null) return call('list_files', { path: 'src' }, 'Listing the modules.');
  const made = callOf(messages, result.id);
  switch (result.name) {
    case 'list_files': {
      const modules = text(result.output)
        .split('\n')
        .filter((line) => /^src\/.*\.js$/.test(line));
      return call(
        'write_file',
        { path: progressFile, content: progressText(modules, null, 'skip') },
        `${modules.length} modules. Writing the plan to ${progressFile}.`,
      );
    }
    case 'write_file': {
      const content = text(made?.args.content);
      const next = /^- (src\/\S+)$/m.exec(content)?.[1];
      if (next !== undefined) return call('read_file', { path: next });
      return { text: finalAnswer(content) };
    }
    case 'read_file': {
      const path = text(made?.args.path);
      const source = text(result.output);
      const finding = `${isGenerated(source) ? 'generated: ' : ''}${findingFor(source)}`;
      return call('record_finding', { module: path, finding });
    }
    case 'record_finding': {
      const out = result.output as {
        next: string | null;
        signedOffBy: string | null;
        reported: number;
        generatedModules: 'skip' | 'review';
      };
      if (out.next !== null) {
        // The shortcut of the first pass: generated modules (every 11th, as the generator lays
        // them out) are skipped without reading, until the progress file says to review them.
        if (out.generatedModules === 'skip' && generatedByName(out.next)) {
          // Skipped on the first pass: record nothing, go on to the one after.
          return call('record_finding', {
            module: out.next,
            finding: 'skipped: generated code',
          });
        }
        return call('read_file', { path: out.next });
      }
      if (out.signedOffBy === null)
        return call(
          'wait_for_signal',
          { name: signOffSignal },
          `All modules are in ${reportFile}. Waiting for a person to sign the report off.`,
        );
      return {
        text: `Audit complete: ${out.reported} modules in ${reportFile}; signed off by ${out.signedOffBy}.`,
      };
    }
    case 'wait_for_signal': {
      const payload = (result.output as { payload?: { by?: unknown } }).payload;
      const by = typeof payload?.by === 'string' ? payload.by : 'someone';
      return call('write_file', {
        path: progressFile,
        content: progressText([], by, 'skip'),
      });
    }
    default:
      return { text: `Unexpected result from ${result.name}; stopping.` };
  }
}

function generatedByName(path: string): boolean {
  return Number(/mod-(\d+)\.js$/.exec(path)?.[1] ?? 0) % 11 === 0;
}

function finalAnswer(progress: string): string {
  const by = /^Signed off by: (.+)$/m.exec(progress)?.[1] ?? '(nobody yet)';
  return `Audit complete: every module is in ${reportFile}; signed off by ${by}.`;
}

/** The evaluator's next turn: it lists the modules, reads the report and the progress file. */
export function evaluatorTurn(request: ModelRequest): ScriptedTurn {
  const toolResults = request.messages.flatMap((m) => (m.role === 'tool' ? m.results : []));
  const listing = toolResults.find((r) => r.name === 'list_files');
  if (listing === undefined) return call('list_files', { path: 'src' });
  const reads = toolResults.filter((r) => r.name === 'read_file');
  if (reads.length === 0) return call('read_file', { path: reportFile });
  if (reads.length === 1) return call('read_file', { path: progressFile });
  const modules = text(listing.output)
    .split('\n')
    .filter((line) => /^src\/.*\.js$/.test(line));
  const report = text(reads[0]?.output);
  const missing = modules.filter(
    (path) => !new RegExp(`^- ${path.replaceAll('.', '\\.')}: (?!skipped)`, 'm').test(report),
  );
  const by = /^Signed off by: (.+)$/m.exec(text(reads[1]?.output))?.[1];
  const signed = by !== undefined && by !== '(nobody yet)';
  return call('submit_verdict', {
    verdicts: [
      {
        criterion: 1,
        passed: missing.length === 0,
        reason:
          missing.length === 0
            ? `all ${modules.length} modules have a finding`
            : `${missing.length} modules have no finding: ${missing.join(', ')}`,
      },
      {
        criterion: 2,
        passed: signed,
        reason: signed ? `signed off by ${by}` : `${progressFile} records no sign-off`,
      },
    ],
  });
}

export interface AuditScriptOptions {
  /** Pause between streamed chunks, milliseconds (default 0). */
  chunkDelayMs?: number;
}

export function auditorModel(options: AuditScriptOptions = {}): ScriptedModel {
  return scriptedModel(auditorTurn, {
    id: 'scripted:auditor',
    chunkSize: 24,
    chunkDelayMs: options.chunkDelayMs ?? 0,
  });
}

export function evaluatorModel(): ScriptedModel {
  return scriptedModel(evaluatorTurn, { id: 'scripted:audit-evaluator' });
}
