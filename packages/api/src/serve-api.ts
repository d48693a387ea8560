import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { serve } from '@hono/node-server';
import { LongrunError } from '@longrun/core';
import type { Api } from './create-api.ts';

export interface ServeOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
}

export interface ServedApi {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  close(): Promise<void>;
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '[::1]';
}

/**
 * Listens on `host:port`. A server without API keys is refused on anything but a loopback
 * address: without keys every caller is tenant `default`, which only the local user may be.
 */
export async function serveApi(api: Api, options: ServeOptions): Promise<ServedApi> {
  const host = options.host ?? '127.0.0.1';
  if (api.auth === 'none' && !isLoopback(host)) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `refusing to serve without API keys on ${host}: only a loopback address (127.0.0.1) may run without keys; create keys with \`longrun keys create\` and serve with auth`,
    );
  }
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: api.fetch, hostname: host, port: options.port }, () =>
      resolve(s),
    ) as Server;
    s.once('error', reject);
  });
  // A request (headers and body) must arrive within a minute; the response may stream for hours.
  server.requestTimeout = 60_000;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 5_000;
  const port = (server.address() as AddressInfo).port;
  const shown = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return {
    url: `http://${shown}:${port}`,
    port,
    async close() {
      api.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
