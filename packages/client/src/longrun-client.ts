import { sessionId } from '@longrun/core';
import type { LongrunClient, SessionHandle, StartInput, StartOptions } from './client-types.ts';
import { HttpTransport, type HttpTransportOptions } from './http-transport.ts';
import { TransportSessionHandle, type Transport } from './session-handle.ts';
import { StoreTransport, type StoreTransportOptions } from './store-transport.ts';
import { httpSchedules, storeSchedules, type ScheduleClient } from './schedule-client.ts';

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
  let transport: Transport;
  let schedules: ScheduleClient;
  if ('store' in options) {
    transport = new StoreTransport(options);
    schedules = storeSchedules(options.store);
  } else {
    const http = new HttpTransport(options);
    transport = http;
    schedules = httpSchedules((method, path, body) => http.call(method, path, body));
  }
  return {
    schedules,
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
