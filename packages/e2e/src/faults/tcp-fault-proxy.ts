import { connect, createServer, type Server, type Socket } from 'node:net';
import { seededRandom } from '../seeded-random.ts';
import { FaultPipe, type FaultMode } from './fault-pipe.ts';
import { within } from './bounded-wait.ts';

export type { FaultMode } from './fault-pipe.ts';

export interface TcpFaultProxyOptions {
  /** Where connections are forwarded; host defaults to 127.0.0.1. */
  targetHost?: string;
  targetPort: number;
  /**
   * Seeds the per-chunk delays; print it so a run can be repeated. Delays are drawn in the order
   * chunks arrive, across all connections; that order depends on timing, so a seed repeats the
   * sequence of delays, not the exact bytes each one lands on.
   */
  seed: number;
  /** The range mode('delay') uses when given none, in ms; default 50–400. */
  delay?: { minMs: number; maxMs: number };
  /** Port to listen on at 127.0.0.1; default 0 (any free port, reported as `port`). */
  listenPort?: number;
}

/** Counters since the proxy started. Bytes count when delivered, not when received. */
export interface ProxyStats {
  mode: FaultMode['kind'];
  /** Client connections accepted. */
  accepted: number;
  /** Connections not yet closed on both sides (held ones included). */
  open: number;
  /** Bytes delivered client → target and target → client. */
  bytesUp: number;
  bytesDown: number;
  /** Connections cut by reset() / resetAll(). */
  resets: number;
  /** Bytes received and not yet delivered (in delay or blackhole), both directions. */
  heldBytes: number;
}

/** One proxied connection, as reset(where) sees it. */
export interface ProxyConnection {
  /** 1 for the first connection accepted, 2 for the next, … */
  readonly id: number;
  /** The first bytes (≤ 1 KiB) the client sent, e.g. a PostgreSQL startup message. */
  readonly head: Buffer;
  readonly bytesUp: number;
  readonly bytesDown: number;
}

/**
 * A TCP proxy on 127.0.0.1 with faults, driven in-process while other processes connect through
 * it. Modes apply to every connection, existing and new:
 * - `pass`: bytes flow (after whatever a previous mode still holds, in order);
 * - `delay`: every chunk is held a seeded random time in a range; byte order per direction kept;
 * - `blackhole`: a network partition. Open connections stay open and nothing moves either way
 *   (FINs and resets included); new connections are accepted and held, and no connection to the
 *   target is opened for them. The target keeps seeing the old connections open.
 *
 * When a black hole ends, everything held is delivered, in order, as TCP does when a partition
 * heals within its retransmission time. That is the case a fencing test needs: the black-holed
 * worker's writes do reach the database, late, after another worker has taken over, and must be
 * rejected there. To model a partition that outlasts TCP's patience, call resetAll() before
 * leaving the black hole: then the held bytes are dropped and both ends see a reset.
 */
export interface TcpFaultProxy {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** `url` with its host and port replaced by the proxy's (e.g. a postgres:// URL). */
  viaProxy(url: string): string;
  mode(kind: 'pass' | 'blackhole'): void;
  /** Delay each chunk by a seeded random whole number of ms in [minMs, maxMs]. */
  mode(kind: 'delay', range?: { minMs: number; maxMs: number }): void;
  currentMode(): FaultMode;
  /** Cuts every open connection now: both sockets are reset (TCP RST), held bytes dropped. */
  resetAll(): number;
  /** Cuts the open connections for which `where` holds; returns how many. */
  reset(where: (connection: ProxyConnection) => boolean): number;
  connections(): ProxyConnection[];
  stats(): ProxyStats;
  /** Stops listening and destroys every connection; resolves when the server has closed. */
  close(): Promise<void>;
}

const headBytes = 1024;

/** Starts listening; resolves once the port is known. */
export async function startTcpFaultProxy(options: TcpFaultProxyOptions): Promise<TcpFaultProxy> {
  const proxy = new FaultProxy(options);
  await proxy.listen(options.listenPort ?? 0);
  return proxy;
}

class Pair implements ProxyConnection {
  readonly id: number;
  readonly client: Socket;
  upstream: Socket | null = null;
  head: Buffer = Buffer.alloc(0);
  bytesUp = 0;
  bytesDown = 0;
  /** Cut by the proxy: events of its sockets are ignored from then on. */
  cut = false;
  clientClosed = false;
  upstreamClosed = false;
  readonly up: FaultPipe;
  readonly down: FaultPipe;

  constructor(id: number, client: Socket, mode: () => FaultMode, random: () => number) {
    this.id = id;
    this.client = client;
    this.up = new FaultPipe(mode, random, (n) => (this.bytesUp += n));
    this.down = new FaultPipe(mode, random, (n) => (this.bytesDown += n));
    this.up.from(client);
    this.down.attach(client);
  }
}

class FaultProxy implements TcpFaultProxy {
  readonly host = '127.0.0.1';
  port = 0;
  readonly #options: TcpFaultProxyOptions;
  readonly #server: Server;
  readonly #random: () => number;
  readonly #pairs = new Set<Pair>();
  #mode: FaultMode = { kind: 'pass' };
  #accepted = 0;
  #resets = 0;
  /** Bytes of connections that have closed, so stats() stays cumulative. */
  #closedBytes = { up: 0, down: 0 };

  constructor(options: TcpFaultProxyOptions) {
    this.#options = options;
    this.#random = seededRandom(options.seed);
    this.#server = createServer({ allowHalfOpen: true }, (client) => this.#accept(client));
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, this.host, () => {
        const address = this.#server.address();
        this.port = typeof address === 'object' && address !== null ? address.port : 0;
        resolve();
      });
    });
  }

  viaProxy(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = this.host;
    parsed.port = String(this.port);
    return parsed.toString();
  }

  mode(kind: FaultMode['kind'], range?: { minMs: number; maxMs: number }): void {
    if (kind === 'delay') {
      const { minMs, maxMs } = range ?? this.#options.delay ?? { minMs: 50, maxMs: 400 };
      if (!(Number.isInteger(minMs) && Number.isInteger(maxMs) && 0 <= minMs && minMs <= maxMs)) {
        throw new RangeError(
          `delay range must be whole ms with 0 <= min <= max: ${minMs}–${maxMs}`,
        );
      }
      this.#mode = { kind, minMs, maxMs };
    } else {
      this.#mode = { kind };
    }
    for (const pair of this.#pairs) {
      if (kind !== 'blackhole') this.#connectUpstream(pair);
      pair.up.pump();
      pair.down.pump();
    }
  }

  currentMode(): FaultMode {
    return this.#mode;
  }

  resetAll(): number {
    return this.reset(() => true);
  }

  reset(where: (connection: ProxyConnection) => boolean): number {
    let count = 0;
    for (const pair of [...this.#pairs]) {
      if (pair.cut || !where(pair)) continue;
      pair.cut = true;
      pair.up.discard();
      pair.down.discard();
      if (!pair.client.destroyed) pair.client.resetAndDestroy();
      if (pair.upstream !== null && !pair.upstream.destroyed) pair.upstream.resetAndDestroy();
      this.#forget(pair);
      count++;
    }
    this.#resets += count;
    return count;
  }

  connections(): ProxyConnection[] {
    return [...this.#pairs].map((p) => ({
      id: p.id,
      head: p.head,
      bytesUp: p.bytesUp,
      bytesDown: p.bytesDown,
    }));
  }

  stats(): ProxyStats {
    const pairs = [...this.#pairs];
    const sum = (f: (p: Pair) => number) => pairs.reduce((total, p) => total + f(p), 0);
    return {
      mode: this.#mode.kind,
      accepted: this.#accepted,
      open: pairs.length,
      bytesUp: this.#closedBytes.up + sum((p) => p.bytesUp),
      bytesDown: this.#closedBytes.down + sum((p) => p.bytesDown),
      resets: this.#resets,
      heldBytes: sum((p) => p.up.heldBytes + p.down.heldBytes),
    };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const pair of [...this.#pairs]) {
      pair.cut = true;
      pair.up.discard();
      pair.down.discard();
      pair.client.destroy();
      pair.upstream?.destroy();
      this.#forget(pair);
    }
    const closedInTime = await within(
      closed.then(() => true),
      5_000,
    );
    if (closedInTime === null) throw new Error(`proxy on port ${this.port} did not close in 5 s`);
  }

  #accept(client: Socket): void {
    const pair = new Pair(++this.#accepted, client, () => this.#mode, this.#random);
    this.#pairs.add(pair);
    client.setNoDelay(true);
    client.on('data', (chunk: Buffer) => {
      if (pair.cut) return;
      if (pair.head.length < headBytes) {
        pair.head = Buffer.concat([pair.head, chunk]).subarray(0, headBytes);
      }
      pair.up.push(chunk);
    });
    client.on('end', () => pair.cut || pair.up.pushClose('end'));
    client.on('error', () => pair.cut || pair.up.pushClose('reset'));
    client.on('close', () => {
      pair.clientClosed = true;
      this.#forgetIfClosed(pair);
    });
    if (this.#mode.kind !== 'blackhole') this.#connectUpstream(pair);
  }

  /** Opens the pair's target connection, once; never during a black hole (the SYN is lost). */
  #connectUpstream(pair: Pair): void {
    if (pair.upstream !== null || pair.cut) return;
    const upstream = connect({
      host: this.#options.targetHost ?? '127.0.0.1',
      port: this.#options.targetPort,
      allowHalfOpen: true,
      noDelay: true,
    });
    pair.upstream = upstream;
    pair.down.from(upstream);
    upstream.on('connect', () => pair.cut || pair.up.attach(upstream));
    upstream.on('data', (chunk: Buffer) => pair.cut || pair.down.push(chunk));
    upstream.on('end', () => pair.cut || pair.down.pushClose('end'));
    // A refused or broken target connection reaches the client as a reset, in order.
    upstream.on('error', () => pair.cut || pair.down.pushClose('reset'));
    upstream.on('close', () => {
      pair.upstreamClosed = true;
      // Nothing more can reach the target; what the client still sends is dropped.
      pair.up.discard();
      this.#forgetIfClosed(pair);
    });
  }

  #forgetIfClosed(pair: Pair): void {
    if (pair.clientClosed && (pair.upstream === null ? pair.cut : pair.upstreamClosed)) {
      this.#forget(pair);
    }
  }

  #forget(pair: Pair): void {
    if (!this.#pairs.delete(pair)) return;
    this.#closedBytes.up += pair.bytesUp;
    this.#closedBytes.down += pair.bytesDown;
  }
}
