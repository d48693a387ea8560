import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A running `GET /metrics` server: where it listens, and how to stop it. */
export interface MetricsServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

/** What the server asks for each scrape: the exposition and its Content-Type. */
export interface MetricsSource {
  contentType: string;
  prometheusText(): Promise<string>;
}

/**
 * Serves `GET /metrics` (and nothing else: 404) for a process without the HTTP API (`longrun
 * worker --metrics-port`). Listens on `host` (default 127.0.0.1, so a worker's metrics are not
 * on the network unless asked for) and `port` (0: a free one).
 */
export async function serveMetrics(
  source: MetricsSource,
  options: { host?: string; port: number },
): Promise<MetricsServer> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0];
    if (path !== '/metrics' || (request.method !== 'GET' && request.method !== 'HEAD')) {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    source.prometheusText().then(
      (text) => {
        response.writeHead(200, { 'content-type': source.contentType });
        response.end(request.method === 'HEAD' ? undefined : text);
      },
      (error: unknown) => {
        response.writeHead(500, { 'content-type': 'text/plain' });
        response.end(`metrics failed: ${(error as Error)?.message ?? String(error)}\n`);
      },
    );
  });
  await listen(server, host, options.port);
  const port = (server.address() as AddressInfo).port;
  return {
    host,
    port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
