import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { getRequestListener } from '@hono/node-server';
import { LongrunError } from '@longrun/core';
import {
  ConnectionGate,
  type ConnectionFigures,
  type ConnectionLimits,
} from './connection-gate.ts';
import type { Api } from './create-api.ts';
import { errorResponse } from './http-errors.ts';
import { foreignNameRefusal, type LoopbackAddress } from './loopback-names.ts';
import { PipelineGuard, defaultPipelineLimits, type PipelineLimits } from './pipeline-guard.ts';

export interface ServeOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** What one connection may hold unanswered or unread; see `PipelineGuard`. */
  pipelineLimits?: PipelineLimits;
  /** How many connections the server holds, in all and from one address; see `ConnectionGate`. */
  connectionLimits?: Partial<ConnectionLimits>;
}

/**
 * An API whose store is still opening (a node started during an outage): served at once, with
 * `waiting` answering every request until `api` resolves.
 */
export interface PendingApi {
  auth: 'keys' | 'none';
  api: Promise<Api>;
  waiting: (request: Request) => Response;
}

export interface ServedApi {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  /** The connections held and refused (also in `GET /v1/figures` as `connections`). */
  connections(): ConnectionFigures;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/**
 * Listens on `host:port`. A server without API keys is refused on anything but a loopback
 * address: without keys every caller is tenant `default`, which only the local user may be; and
 * it answers only requests that name it by a loopback name (`loopback-names.ts`: DNS rebinding).
 * The connections it holds are capped, in all and per address (`ConnectionGate`), and every
 * connection is bounded in what it may leave unanswered or unread (`PipelineGuard`).
 */
export async function serveApi(given: Api | PendingApi, options: ServeOptions): Promise<ServedApi> {
  const host = options.host ?? '127.0.0.1';
  const pending = 'waiting' in given ? given : null;
  let api: Api | null = pending === null ? (given as Api) : null;
  const gate = new ConnectionGate(options.connectionLimits);
  const reportConnections = (to: Api): void => to.addFigures('connections', () => gate.figures);
  if (api !== null) reportConnections(api);
  // Its failure is the caller's to handle (it closes this server): here it only ends the wait.
  pending?.api.then(
    (ready) => {
      api = ready;
      reportConnections(ready);
    },
    () => undefined,
  );
  const auth = pending?.auth ?? (given as Api).auth;
  const answer = (request: Request): Promise<Response> | Response =>
    api === null ? (pending as PendingApi).waiting(request) : api.fetch(request);
  if (auth === 'none' && !isLoopback(host)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `refusing to serve without API keys on ${host}: only a loopback address (127.0.0.1) may run without keys; create keys with \`longrun keys create\` and serve with auth`,
    );
  }
  const bound: LoopbackAddress = { host, port: options.port };
  const fetch =
    auth === 'none'
      ? async (request: Request): Promise<Response> => {
          const refusal = foreignNameRefusal(request.headers, bound);
          return refusal === null ? answer(request) : errorResponse(refusal);
        }
      : answer;
  const app = getRequestListener(fetch, { hostname: host });
  const guard = new PipelineGuard(options.pipelineLimits ?? defaultPipelineLimits);
  const server = createServer((request, response) => {
    if (gate.admit(request, response) && guard.admit(request, response))
      void app(request, response).then(
        () => guard.written(request),
        // Answering failed past what the app handles (its own errors are answers): drop it.
        () => request.socket.destroy(),
      );
  });
  gate.attach(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A request (headers and body) must arrive within a minute; the response may stream for hours.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  const port = (server.address() as AddressInfo).port;
  bound.port = port;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    connections: () => gate.figures,
    async close() {
      api?.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
