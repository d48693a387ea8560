import { pino, type DestinationStream } from 'pino';

/** A structured log entry's sink: one JSON object per line, stamped with the time. */
export type JsonLog = (entry: Record<string, unknown>) => void;

/** A JSON line with its time first: a command's own output lines (stdout), not its log. */
export function jsonLine(entry: Record<string, unknown>): string {
  return `${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`;
}

const levels = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
type Level = (typeof levels)[number];
const isLevel = (v: unknown): v is Level => (levels as readonly unknown[]).includes(v);

/** Keys whose values are never logged, at the top level or one level down. */
const secretKeys = [
  'authorization',
  'cookie',
  'apiKey',
  'key',
  'token',
  'password',
  'secret',
  'secrets',
  'credentials',
];
const redactPaths = secretKeys.flatMap((k) => [k, `*.${k}`, `headers["${k}"]`]);

/** Environment variables that hold credentials, by name. */
const secretName = /(?:^|_)(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?|PRIVATE|PAT)(?:_|$)/i;
const apiKey = /\blr_([0-9a-f]{16})_[A-Za-z0-9_-]{20,}/g;
const bearer = /\b(Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi;
const censor = '[REDACTED]';

/** The values of this process's environment variables whose names say they are credentials. */
export function environmentSecrets(env: NodeJS.ProcessEnv = process.env): string[] {
  return Object.entries(env)
    .filter(([name, value]) => secretName.test(name) && value !== undefined && value.length >= 8)
    .map(([, value]) => value as string)
    .sort((a, b) => b.length - a.length);
}

export interface JsonLogOptions {
  /** Where lines go: a file descriptor (default 2, stderr) or a stream (tests). */
  destination?: number | DestinationStream;
  /** The lowest level written; default LONGRUN_LOG_LEVEL or `info`. */
  level?: string;
  /** Values never written, wherever they appear; default: `environmentSecrets()`. */
  secrets?: readonly string[];
}

/**
 * The log of `dev`, `worker` and `serve`: pino JSON lines on stderr (stdout is the command's
 * output), with `level` as a name, `time` in ISO 8601 and `msg`. Every entry about a session
 * carries `sessionId`, `seq` and `step` (the worker's log subscriber places them). Secrets are
 * redacted as a backstop — the runtime never means to log one: values under credential-like
 * keys, longrun API keys and bearer tokens in any string, and the values of the process's
 * credential-named environment variables, wherever they appear.
 */
export function createJsonLog(options: JsonLogOptions = {}): JsonLog {
  const level = options.level ?? process.env.LONGRUN_LOG_LEVEL ?? 'info';
  if (!isLevel(level)) {
    throw new Error(`log level ${JSON.stringify(level)} is not one of ${levels.join(', ')}`);
  }
  const secrets = options.secrets ?? environmentSecrets();
  const destination =
    typeof options.destination === 'object'
      ? options.destination
      : pino.destination({ dest: options.destination ?? 2, sync: true });
  const logger = pino(
    {
      level,
      base: null,
      messageKey: 'msg',
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: redactPaths, censor },
    },
    destination,
  );
  const scrub = (value: unknown, depth = 0): unknown => {
    if (typeof value === 'string') {
      let out = value.replace(apiKey, `lr_$1_${censor}`).replace(bearer, `$1 ${censor}`);
      for (const secret of secrets) if (out.includes(secret)) out = out.replaceAll(secret, censor);
      return out;
    }
    if (depth > 8 || value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => scrub(v, depth + 1));
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, depth + 1)]));
  };
  return (entry) => {
    const { level: asked, msg, ...fields } = entry;
    const at = isLevel(asked) ? asked : 'info';
    logger[at](scrub(fields) as Record<string, unknown>, scrub(msg ?? '') as string);
  };
}

let processLog: JsonLog | null = null;

/** The process's log (stderr), made on first use. */
export const jsonLog: JsonLog = (entry) => {
  processLog ??= createJsonLog();
  processLog(entry);
};
