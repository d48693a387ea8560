import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { isIP, type Socket } from 'node:net';
import { LongrunError } from '@longrun/core';
import { httpStatusOf, type ErrorBody } from './http-errors.ts';

export interface ConnectionLimits {
  /**
   * Open connections, server-wide, at most. Each is a file descriptor the process shares with
   * its store (SQLite files, a Postgres pool) and sandboxes, so the default (2,048) stays far
   * under a usual descriptor limit (Node raises the soft limit to the hard one, often ≥ 20,000).
   */
  maxOpen: number;
  /**
   * Open connections from one remote address (IPv4 address or IPv6 /64, which one host
   * usually holds whole), at most, so one caller cannot take all of `maxOpen`. Default 256.
   */
  maxOpenPerAddress: number;
  /**
   * Whether callers on a loopback address count against `maxOpenPerAddress`. Default false:
   * everything on this host shares one address — a reverse proxy in front of the server, a
   * dashboard's streams, a benchmark's thousand readers — and `maxOpen` still bounds them.
   */
  capLoopbackPerAddress: boolean;
  /**
   * A connection with no request in progress this long — none since it opened, or none since its
   * last answer (an idle keep-alive connection) — is closed when a new connection needs its place
   * (only then: while the server is under its caps, idle connections wait out Node's
   * `headersTimeout` and `keepAliveTimeout` as before), milliseconds. Default 2 000.
   */
  silentReapMs: number;
  /**
   * Connections over a cap held at once to be answered 503 SERVER_BUSY (each until its request
   * arrives, at most `refusalWaitMs`); past that many, a connection over a cap is closed at
   * once, unanswered. Default 64, 2 000 ms.
   */
  refusalSlots: number;
  refusalWaitMs: number;
}

export const defaultConnectionLimits: ConnectionLimits = {
  maxOpen: 2_048,
  maxOpenPerAddress: 256,
  capLoopbackPerAddress: false,
  silentReapMs: 2_000,
  refusalSlots: 64,
  refusalWaitMs: 2_000,
};

/** What `GET /v1/figures` shows as `connections`: counts now, and totals since the start. */
export interface ConnectionFigures {
  open: number;
  maxOpen: number;
  maxOpenPerAddress: number;
  /** Distinct remote addresses (IPv6: /64 networks) with a connection open. */
  addresses: number;
  /** Connections answered 503 SERVER_BUSY (or closed unanswered) for being over a cap. */
  refused: number;
  /** Connections closed while idle (no request in progress) to make room for a new one. */
  reaped: number;
  /** Health and readiness checks answered by the app on a connection over a cap. */
  probesOverCap: number;
}

interface Admitted {
  key: string;
  /**
   * Since when no request is in progress (none yet, or none since the last answer): may be
   * reaped under pressure. Null while one is.
   */
  silentSinceMs: number | null;
  /** Requests in progress (more than one only when a client pipelines). */
  requests: number;
}

/**
 * Bounds the TCP connections one HTTP server holds: `maxOpen` in all, `maxOpenPerAddress` from
 * one address. Before, any number could be open — 1,500 slow webhook bodies, or idle sockets
 * that never send a header (held 30 s each by Node's `headersTimeout`), could take every file
 * descriptor the store also needs, and lock out every other caller.
 *
 * A connection over a cap is refused cheaply: it takes a refusal slot, its request (when it comes
 * within `refusalWaitMs`) is answered 503 SERVER_BUSY with `Retry-After` and `Connection: close`,
 * and the app never sees it. Before refusing, connections with no request in progress for
 * `silentReapMs` (none sent yet, or idle since their last answer) are closed to make room, the
 * longest idle first. Past the refusal slots the kernel's
 * accepts are closed unanswered (`server.maxConnections`), so the descriptors held stay bounded
 * at `maxOpen + refusalSlots`. Connections already open are never touched by a refusal.
 */
export class ConnectionGate {
  readonly #limits: ConnectionLimits;
  readonly #admitted = new Map<Socket, Admitted>();
  /** Admitted connections with no request in progress, in the order they became so. */
  readonly #silent = new Set<Socket>();
  readonly #openByKey = new Map<string, number>();
  /** Refused connections waiting for their request to be answered 503: why, and their deadline. */
  readonly #refusing = new Map<Socket, { why: string; timer: NodeJS.Timeout }>();
  #refused = 0;
  #reaped = 0;
  #probes = 0;

  constructor(limits: Partial<ConnectionLimits> = {}) {
    this.#limits = { ...defaultConnectionLimits, ...limits };
  }

  /** Starts gating `server`'s connections; call before it listens. */
  attach(server: Server): void {
    server.maxConnections = this.#limits.maxOpen + this.#limits.refusalSlots;
    server.on('drop', () => this.#refused++);
    server.on('connection', (socket: Socket) => this.#arrived(socket));
  }

  /**
   * Whether `request` may reach the app. False when its connection is over a cap: it was then
   * answered 503 SERVER_BUSY here, and its connection closes after the answer. A liveness or
   * readiness check (`GET /v1/health`, `/v1/ready`) over a cap still reaches the app, on a
   * connection that closes after the answer: a server full of streams is alive, and probes that
   * failed would have it restarted. It stays bounded: such connections hold refusal slots.
   */
  admit(request: IncomingMessage, response: ServerResponse): boolean {
    const socket = request.socket;
    const refusal = this.#refusing.get(socket);
    if (refusal !== undefined && isProbe(request)) {
      // The ready check is bounded by its own timeout; the answer closes the connection.
      clearTimeout(refusal.timer);
      response.shouldKeepAlive = false;
      // Counted as refused when it arrived; it was answered after all.
      this.#refused--;
      this.#probes++;
      return true;
    }
    if (refusal === undefined) {
      const admitted = this.#admitted.get(socket);
      if (admitted !== undefined) {
        admitted.requests++;
        admitted.silentSinceMs = null;
        this.#silent.delete(socket);
        // Answered (or abandoned): idle from now until its next request, reapable like a new one.
        response.once('close', () => {
          admitted.requests--;
          if (admitted.requests > 0 || this.#admitted.get(socket) !== admitted) return;
          admitted.silentSinceMs = performance.now();
          this.#silent.add(socket);
        });
      }
      return true;
    }
    answerBusy(response, refusal.why);
    return false;
  }

  get figures(): ConnectionFigures {
    return {
      open: this.#admitted.size,
      maxOpen: this.#limits.maxOpen,
      maxOpenPerAddress: this.#limits.maxOpenPerAddress,
      addresses: this.#openByKey.size,
      refused: this.#refused,
      reaped: this.#reaped,
      probesOverCap: this.#probes,
    };
  }

  #arrived(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const key = addressKey(address);
    const perAddress = this.#limits.capLoopbackPerAddress || !isLoopbackAddress(address);
    const refusal = this.#refusal(key, perAddress);
    if (refusal === null) return this.#admit(socket, key);
    this.#refused++;
    if (this.#refusing.size >= this.#limits.refusalSlots) {
      socket.destroy();
      return;
    }
    const timer = setTimeout(() => socket.destroy(), this.#limits.refusalWaitMs);
    timer.unref();
    this.#refusing.set(socket, { why: refusal, timer });
    socket.once('close', () => {
      clearTimeout(timer);
      this.#refusing.delete(socket);
    });
  }

  /** Why a new connection from `key` is over a cap (after reaping silent ones), or null. */
  #refusal(key: string, perAddress: boolean): string | null {
    const { maxOpen, maxOpenPerAddress } = this.#limits;
    if (perAddress && (this.#openByKey.get(key) ?? 0) >= maxOpenPerAddress) {
      this.#reapSilent(key);
      if ((this.#openByKey.get(key) ?? 0) >= maxOpenPerAddress) {
        return `your address has as many connections open as one address may (${maxOpenPerAddress}); reuse them (HTTP keep-alive), close streams you no longer read, and try again shortly`;
      }
    }
    if (this.#admitted.size >= maxOpen) {
      this.#reapSilent(null);
      if (this.#admitted.size >= maxOpen) {
        return `the server has as many connections open as it allows (${maxOpen}); try again shortly, and reuse connections (HTTP keep-alive) rather than opening many`;
      }
    }
    return null;
  }

  #admit(socket: Socket, key: string): void {
    this.#admitted.set(socket, { key, silentSinceMs: performance.now(), requests: 0 });
    this.#silent.add(socket);
    this.#openByKey.set(key, (this.#openByKey.get(key) ?? 0) + 1);
    socket.once('close', () => this.#release(socket));
  }

  /** Forgets an admitted connection; once per connection, whichever of close or reap is first. */
  #release(socket: Socket): void {
    const admitted = this.#admitted.get(socket);
    if (admitted === undefined) return;
    this.#admitted.delete(socket);
    this.#silent.delete(socket);
    const left = (this.#openByKey.get(admitted.key) ?? 1) - 1;
    if (left === 0) this.#openByKey.delete(admitted.key);
    else this.#openByKey.set(admitted.key, left);
  }

  /**
   * Closes the connections (of `key`, or any) silent for `silentReapMs` or more. Released here,
   * not at their close event, so the new connection is counted against what is left at once.
   */
  #reapSilent(key: string | null): void {
    const before = performance.now() - this.#limits.silentReapMs;
    for (const socket of this.#silent) {
      const admitted = this.#admitted.get(socket);
      if (admitted === undefined || admitted.silentSinceMs === null) continue;
      // In the order they fell silent: the first one too young means every later one is too.
      if (admitted.silentSinceMs > before) return;
      if (key !== null && admitted.key !== key) continue;
      this.#release(socket);
      this.#reaped++;
      socket.destroy();
      // One place is all the new connection needs; the rest wait for their own turn.
      return;
    }
  }
}

/** The 503 a connection over a cap gets, in the API's error shape, closing the connection. */
function answerBusy(response: ServerResponse, message: string): void {
  const error = new LongrunError('SERVER_BUSY', message);
  const body: ErrorBody = { error: { code: error.code, message } };
  const text = JSON.stringify(body);
  response.shouldKeepAlive = false;
  response.writeHead(httpStatusOf(error), {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'retry-after': '1',
    connection: 'close',
  });
  response.end(text);
}

/** A liveness or readiness check: answered even over a cap (`admit`). */
function isProbe(request: IncomingMessage): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = (request.url ?? '').split('?')[0];
  return path === '/v1/health' || path === '/v1/ready';
}

/** IPv4-mapped IPv6 as IPv4, without a zone. */
function plainAddress(address: string): string {
  const bare = address.split('%')[0] ?? '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare);
  return mapped?.[1] ?? bare;
}

function isLoopbackAddress(address: string): boolean {
  const plain = plainAddress(address);
  return plain === '::1' || (isIP(plain) === 4 && plain.startsWith('127.'));
}

/**
 * What the per-address cap counts by: an IPv4 address, or an IPv6 address's /64 — a host is
 * usually given a whole /64, so counting single IPv6 addresses would cap nothing.
 */
export function addressKey(address: string): string {
  const plain = plainAddress(address);
  if (isIP(plain) !== 6) return plain;
  const [head = '', tail = ''] = plain.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = plain.includes('::') && tail !== '' ? tail.split(':') : [];
  // A dotted IPv4 ending (`64:ff9b::1.2.3.4`) holds two groups.
  const dotted = plain.includes('.') ? 1 : 0;
  const missing = 8 - headGroups.length - tailGroups.length - dotted;
  const groups = [...headGroups, ...Array<string>(Math.max(0, missing)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((g) => g.toLowerCase().replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
