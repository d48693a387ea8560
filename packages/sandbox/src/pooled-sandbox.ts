import {
  LongrunError,
  type ExecRequest,
  type ExecResult,
  type Sandbox,
  type WorkspaceFiles,
} from '@longrun/core';

/** A claimed sandbox: closing it destroys the sandbox and gives its place back to the pool. */
export class PooledSandbox implements Sandbox {
  private inner: Sandbox | null;
  private readonly onRelease: () => void;
  private closing: Promise<void> | null = null;

  constructor(inner: Sandbox | null, onRelease: () => void) {
    this.inner = inner;
    this.onRelease = onRelease;
  }

  get id(): string {
    return this.sandbox().id;
  }

  bind(inner: Sandbox): this {
    this.inner = inner;
    return this;
  }

  exec(request: ExecRequest): Promise<ExecResult> {
    return this.sandbox().exec(request);
  }

  get files(): WorkspaceFiles {
    return this.sandbox().files;
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.inner?.close();
      } finally {
        this.onRelease();
      }
    })();
    return this.closing;
  }

  private sandbox(): Sandbox {
    if (this.inner === null)
      throw new LongrunError('INVALID_STATE', 'the sandbox is not bound yet');
    return this.inner;
  }
}
