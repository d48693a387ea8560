import { sessionId } from '@longrun/core';
import type { LongrunClient, SessionHandle, StartInput, StartOptions } from './client-types.ts';
import { HttpTransport, type HttpTransportOptions } from './http-transport.ts';
import { TransportSessionHandle, type Transport } from './session-handle.ts';
import { StoreTransport, type StoreTransportOptions } from './store-transport.ts';

export type LongrunClientOptions = StoreTransportOptions | HttpTransportOptions;

/**
 * A client for code that starts and follows sessions, like a workflow handle: the same interface
 * against a store this process opened (`{ store }`) and against a longrun server over HTTP
 * (`{ url, apiKey }`). Workers run the sessions; the client starts them and waits on them.
 *
 *   const client = longrunClient({ url: 'http://127.0.0.1:7070', apiKey });
 *   const handle = await client.start('fix-failing-test', 'The tests fail; fix the code.');
 *   for await (const e of handle.events()) console.log(e.seq, e.type);
 *   const output = await handle.result();
 */
export function longrunClient(options: LongrunClientOptions): LongrunClient {
  const transport: Transport =
    'store' in options ? new StoreTransport(options) : new HttpTransport(options);
  return {
    async start(
      agent: string,
      input: StartInput,
      startOptions: StartOptions = {},
    ): Promise<SessionHandle> {
      const session = await transport.create(agent, input, startOptions);
      return new TransportSessionHandle(transport, session.id);
    },
    async get(id: string): Promise<SessionHandle> {
      const session = await transport.session(sessionId(id));
      return new TransportSessionHandle(transport, session.id);
    },
  };
}
