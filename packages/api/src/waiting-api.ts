import { LongrunError } from '@longrun/core';
import { json } from './api-context.ts';
import { errorResponse } from './http-errors.ts';

/** The version an API reports when none is given (createApi's `version`). */
export const defaultApiVersion = '0.1.0';

/**
 * What an API node answers while its store has not opened yet (it was started during an outage):
 * it is alive (`/v1/health` 200), not ready (`/v1/ready` 503), and every other request gets 503
 * STORE_UNAVAILABLE with Retry-After, naming what it waits for — so a load balancer, a probe or
 * an operator sees a node waiting, not a refused port.
 */
export function waitingAnswer(
  request: Request,
  node: { auth: 'keys' | 'none'; storeKind: string; waitingFor: () => string },
): Response {
  const { pathname } = new URL(request.url);
  if (request.method === 'GET' && pathname === '/v1/health')
    return json(200, { ok: true, auth: node.auth, version: defaultApiVersion });
  if (request.method === 'GET' && pathname === '/v1/ready')
    return json(503, { ready: false, store: node.storeKind }, { 'retry-after': '1' });
  return errorResponse(
    new LongrunError(
      'STORE_UNAVAILABLE',
      `this API node is waiting for its store (${node.waitingFor()}); try again shortly`,
      { retryable: true },
    ),
  );
}
