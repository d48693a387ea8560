import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

export interface PipelineLimits {
  /** Requests one connection may have started and not finished (answered to the kernel), at most. */
  maxInFlight: number;
  /** Bytes of answers one connection may leave unread while it has more than one, at most. */
  maxUnreadBytes: number;
}

export const defaultPipelineLimits: PipelineLimits = {
  maxInFlight: 16,
  maxUnreadBytes: 8 * 1024 * 1024,
};

/**
 * Bounds what one HTTP/1.1 connection can make the server hold. Node answers pipelined requests
 * in order, so the answers to requests sent behind one the client does not read wait in memory;
 * a client that pipelines thousands of requests and reads nothing made the server hold gigabytes.
 * A connection that has `maxInFlight` requests unanswered when another arrives, or whose
 * unread answers pass `maxUnreadBytes` while it has more than one, is dropped. Browsers do not
 * pipeline, and a client that reads each answer before its next request has one in flight; one
 * large answer alone is the route's own bound (and streams wait for the client to read).
 */
export class PipelineGuard {
  readonly #limits: PipelineLimits;
  readonly #inFlight = new WeakMap<Socket, Set<ServerResponse>>();

  constructor(limits: PipelineLimits = defaultPipelineLimits) {
    this.#limits = limits;
  }

  /** Whether to serve this request; false when its connection was (or is now) dropped. */
  admit(request: IncomingMessage, response: ServerResponse): boolean {
    const socket = request.socket;
    if (socket.destroyed) return false;
    let open = this.#inFlight.get(socket);
    if (open === undefined) {
      open = new Set();
      this.#inFlight.set(socket, open);
    }
    const responses = open;
    responses.add(response);
    response.once('close', () => responses.delete(response));
    if (responses.size > this.#limits.maxInFlight || this.#overUnread(responses)) {
      socket.destroy();
      return false;
    }
    return true;
  }

  /** Call when a response was handed to Node: drops its connection if it holds too much unread. */
  written(request: IncomingMessage): void {
    const open = this.#inFlight.get(request.socket);
    if (open !== undefined && this.#overUnread(open)) request.socket.destroy();
  }

  #overUnread(open: Set<ServerResponse>): boolean {
    if (open.size < 2) return false;
    let unread = 0;
    for (const response of open) unread += response.writableLength;
    return unread > this.#limits.maxUnreadBytes;
  }
}
