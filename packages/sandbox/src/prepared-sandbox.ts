import type { Sandbox, SandboxDriver, SandboxSpec } from '@longrun/core';

/**
 * A sandbox made ready ahead of time and not yet bound to anyone: no workspace, env or limits.
 * `open` binds them (once); `discard` frees an unused one. The warm pool holds these.
 */
export interface PreparedSandbox {
  open(spec: SandboxSpec): Promise<Sandbox>;
  discard(): Promise<void>;
}

/** A driver that can split `open` into a slow, identity-free `prepare` and a fast bind. */
export interface PreparableDriver extends SandboxDriver {
  prepare(): Promise<PreparedSandbox>;
}
