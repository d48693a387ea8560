/** A structured log entry's sink: one JSON object per line, stamped with the time. */
export type JsonLog = (entry: Record<string, unknown>) => void;

/** A JSON line with its time first, as every long-running command writes them. */
export function jsonLine(entry: Record<string, unknown>): string {
  return `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
}

/** The log of `dev`, `worker` and `serve`: JSON lines on stderr (stdout is the command's output). */
export const jsonLog: JsonLog = (entry) => void process.stderr.write(jsonLine(entry));
