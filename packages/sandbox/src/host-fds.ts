import { readFileSync, readdirSync } from 'node:fs';

const O_CLOEXEC = 0o2000000;

/**
 * Descriptors of this process that a child would inherit: above 2 and without close-on-exec.
 * Node opens its own descriptors close-on-exec; these come from whoever started the worker
 * (a supervisor's pipe, a test runner's channel). bubblewrap passes every inherited descriptor
 * into the sandbox, so the driver closes these before it starts bubblewrap.
 */
export function inheritableFds(): number[] {
  const fds: number[] = [];
  for (const name of readdirSync('/proc/self/fd')) {
    const fd = Number(name);
    if (fd <= 2) continue;
    try {
      const flags = /^flags:\s+([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (flags?.[1] !== undefined && (Number.parseInt(flags[1], 8) & O_CLOEXEC) === 0) {
        fds.push(fd);
      }
    } catch {
      // Closed meanwhile (or the directory handle of readdir itself): nothing to inherit.
    }
  }
  return fds;
}
