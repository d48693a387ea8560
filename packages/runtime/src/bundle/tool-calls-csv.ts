import type { JsonObject, StoredEvent } from '@longrun/core';
import { argsHash } from '../agent/approvals.ts';

export const toolCallsHeader = 'ts,seq,step,call_index,tool,input_hash,latency_ms,status,error';

/** A CSV field: quoted when it holds a comma, a quote or a line break (RFC 4180). */
function field(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

const errorMaxChars = 500;

function errorText(output: unknown): string {
  const text = typeof output === 'string' ? output : JSON.stringify(output);
  return text.length > errorMaxChars ? `${text.slice(0, errorMaxChars)}…` : text;
}

/**
 * One row per tool call result of the log (`tool.completed`, `tool.interrupted`): when it was
 * recorded (ISO time), the call, the hash of its arguments (as approvals bind them), how long it
 * took from its last `tool.started` (empty when it never started: refused or invalid), whether it
 * succeeded, and its error.
 */
export function toolCallsCsv(events: readonly StoredEvent[]): string {
  const args = new Map<string, { tool: string; args: JsonObject }>();
  const startedAt = new Map<string, number>();
  const rows = [toolCallsHeader];
  for (const e of events) {
    if (e.type === 'model.responded') {
      for (const c of e.data.toolCalls) args.set(`${e.data.step}:${c.callIndex}`, c);
    } else if (e.type === 'tool.started' || e.type === 'tool.resumed') {
      startedAt.set(`${e.data.step}:${e.data.callIndex}`, e.atMs);
    } else if (e.type === 'tool.completed' || e.type === 'tool.interrupted') {
      const at = `${e.data.step}:${e.data.callIndex}`;
      const call = args.get(at);
      const started = startedAt.get(at);
      const [status, error] =
        e.type === 'tool.interrupted'
          ? ['unknown', 'interrupted: outcome unknown']
          : e.data.ok
            ? ['ok', null]
            : [started === undefined ? 'refused' : 'error', errorText(e.data.output)];
      rows.push(
        [
          new Date(e.atMs).toISOString(),
          e.seq,
          e.data.step,
          e.data.callIndex,
          e.data.tool,
          call === undefined ? null : argsHash(call.tool, call.args),
          started === undefined ? null : e.atMs - started,
          status,
          error,
        ]
          .map(field)
          .join(','),
      );
    }
  }
  return `${rows.join('\n')}\n`;
}
