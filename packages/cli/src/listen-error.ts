import { LongrunError } from '@longrun/core';

/** The flags that named what a server listens on, for the message: `--port`, `--metrics-port`. */
export interface ListenFlags {
  portFlag: string;
  hostFlag: string;
}

/**
 * A listen that failed for a reason the operator fixes on the command line (the port is taken,
 * needs privileges, or the host is no address of this machine) as INVALID_ARGUMENT (exit 2), with
 * the flag to change; any other error as it was. Node's own `listen EADDRINUSE …` has no code
 * and exits 1, as if longrun had failed at its work.
 */
export function translateListenError(
  error: unknown,
  at: { host: string; port: number },
  flags: ListenFlags,
): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const where = `${at.host}:${at.port}`;
  const orFree = `, or ${flags.portFlag} 0 for a free one (the start line says which)`;
  const message =
    code === 'EADDRINUSE'
      ? `cannot listen on ${where}: the port is in use by another process (another longrun?). Pick another ${flags.portFlag}${orFree}`
      : code === 'EACCES'
        ? `cannot listen on ${where}: this user may not use port ${at.port} (ports below 1024 need privileges). Pick ${flags.portFlag} 1024 or above${orFree}`
        : code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? `cannot listen on ${where}: ${at.host} is not an address of this machine. Pick another ${flags.hostFlag} (127.0.0.1 for this machine only)`
          : null;
  if (message === null) return error;
  return new LongrunError('INVALID_ARGUMENT', message, { cause: error });
}
