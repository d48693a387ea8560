import { LongrunError, type Sandbox, type SandboxDriver, type SandboxSpec } from '@longrun/core';
import type { PreparableDriver, PreparedSandbox } from './prepared-sandbox.ts';
import { PooledSandbox } from './pooled-sandbox.ts';
import { percentile } from './percentile.ts';

export interface SandboxPoolOptions {
  driver: PreparableDriver;
  /** The ceiling: sandboxes ready, being prepared and in use together never exceed it. */
  maxSandboxes: number;
  /** How many to keep ready ahead of claims (default: maxSandboxes). */
  warm?: number;
  /** How long a claim waits in the queue before SANDBOX_BUSY (default 30 s). */
  claimTimeoutMs?: number;
}

export interface SandboxPoolStats {
  size: number;
  ready: number;
  inUse: number;
  provisioning: number;
  queued: number;
  /** Time to prepare one warm sandbox, over the last 256; NaN before the first. */
  provisioningMsP50: number;
  provisioningMsP99: number;
}

interface Waiter {
  spec: SandboxSpec;
  resolve(sandbox: Sandbox): void;
  reject(error: Error): void;
}

const samplesKept = 256;

/**
 * Keeps identity-free sandboxes ready so that a claim only binds workspace, env and limits.
 * At the ceiling, claims wait in FIFO order (bounded by `claimTimeoutMs`, then SANDBOX_BUSY)
 * instead of failing. A released sandbox is destroyed, never handed to another identity, and the
 * pool prepares a fresh one in the background.
 */
export class SandboxPool {
  private readonly driver: PreparableDriver;
  private readonly max: number;
  private readonly warm: number;
  private readonly claimTimeoutMs: number;
  private readonly ready: PreparedSandbox[] = [];
  private readonly waiters: Waiter[] = [];
  private readonly samplesMs: number[] = [];
  private readonly inUse = new Set<PooledSandbox>();
  private provisioning = 0;
  private failures = 0;
  private closed = false;

  constructor(options: SandboxPoolOptions) {
    if (!(Number.isSafeInteger(options.maxSandboxes) && options.maxSandboxes >= 1)) {
      throw new LongrunError('INVALID_ARGUMENT', 'maxSandboxes must be an integer ≥ 1');
    }
    this.driver = options.driver;
    this.max = options.maxSandboxes;
    this.warm = Math.min(options.warm ?? this.max, this.max);
    this.claimTimeoutMs = options.claimTimeoutMs ?? 30_000;
    this.fill();
  }

  /** A sandbox bound to `spec`; its `close()` destroys it and frees its place in the pool. */
  claim(
    spec: SandboxSpec,
    options: { timeoutMs?: number; signal?: AbortSignal } = {},
  ): Promise<Sandbox> {
    if (this.closed) return Promise.reject(new LongrunError('INVALID_STATE', 'the pool is closed'));
    const timeoutMs = options.timeoutMs ?? this.claimTimeoutMs;
    return new Promise((resolve, reject) => {
      const leave = (error: Error): void => {
        const index = this.waiters.indexOf(waiter);
        if (index === -1) return;
        this.waiters.splice(index, 1);
        reject(error);
      };
      const timer = setTimeout(() => leave(this.busy(timeoutMs)), timeoutMs);
      const onAbort = (): void => leave(asError(options.signal?.reason));
      const settle = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const waiter: Waiter = {
        spec,
        resolve: (sandbox) => (settle(), resolve(sandbox)),
        reject: (error) => (settle(), reject(error)),
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
      this.dispatch();
      this.fill();
    });
  }

  /**
   * The pool seen as a driver: `open` claims a warm sandbox (queueing at the ceiling), so an
   * agent's `sandbox.driver` can be a pool. It reports the protections of the driver it wraps.
   */
  asDriver(): SandboxDriver {
    return {
      kind: this.driver.kind,
      protections: () => this.driver.protections(),
      open: (spec) => this.claim(spec),
    };
  }

  stats(): SandboxPoolStats {
    return {
      size: this.max,
      ready: this.ready.length,
      inUse: this.inUse.size,
      provisioning: this.provisioning,
      queued: this.waiters.length,
      provisioningMsP50: percentile(this.samplesMs, 50),
      provisioningMsP99: percentile(this.samplesMs, 99),
    };
  }

  /** Rejects waiting claims, destroys ready sandboxes and closes those in use. */
  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) {
      waiter.reject(new LongrunError('INVALID_STATE', 'the pool closed while the claim waited'));
    }
    const ready = this.ready.splice(0);
    await Promise.all([...ready.map((p) => p.discard()), ...[...this.inUse].map((s) => s.close())]);
  }

  private dispatch(): void {
    while (this.waiters.length > 0 && this.ready.length > 0) {
      const waiter = this.waiters.shift() as Waiter;
      const prepared = this.ready.shift() as PreparedSandbox;
      const placeholder = new PooledSandbox(null, () => this.release(placeholder));
      this.inUse.add(placeholder);
      prepared.open(waiter.spec).then(
        (sandbox) => {
          placeholder.bind(sandbox);
          if (!this.closed) return waiter.resolve(placeholder);
          waiter.reject(new LongrunError('INVALID_STATE', 'the pool closed during the claim'));
          void placeholder.close();
        },
        (error: unknown) => {
          this.release(placeholder);
          waiter.reject(asError(error));
        },
      );
    }
  }

  private release(sandbox: PooledSandbox): void {
    if (!this.inUse.delete(sandbox)) return;
    this.fill();
  }

  /** Starts preparing sandboxes until `warm` are ready or coming, within the ceiling. */
  private fill(): void {
    while (
      !this.closed &&
      this.ready.length + this.provisioning < this.warm + this.waiters.length &&
      this.ready.length + this.provisioning + this.inUse.size < this.max
    ) {
      this.provisioning += 1;
      void this.provisionOne();
    }
  }

  private async provisionOne(): Promise<void> {
    const startedMs = performance.now();
    try {
      const prepared = await this.driver.prepare();
      this.failures = 0;
      this.samplesMs.push(performance.now() - startedMs);
      if (this.samplesMs.length > samplesKept) this.samplesMs.shift();
      if (this.closed) await prepared.discard();
      else this.ready.push(prepared);
    } catch (error) {
      this.failures += 1;
      // The claim at the head learns why instead of timing out; later ones wait for a retry.
      this.waiters.shift()?.reject(asError(error));
      const backoffMs = Math.min(5_000, 50 * 2 ** this.failures);
      await new Promise((resolve) => setTimeout(resolve, backoffMs).unref());
    } finally {
      this.provisioning -= 1;
    }
    this.dispatch();
    this.fill();
  }

  private busy(waitedMs: number): LongrunError {
    const { inUse, queued } = this.stats();
    return new LongrunError(
      'SANDBOX_BUSY',
      `no sandbox became free within ${waitedMs} ms (${inUse} of ${this.max} in use, ${queued} waiting); retry later or raise maxSandboxes`,
      { details: { inUse, size: this.max, queued } },
    );
  }
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
