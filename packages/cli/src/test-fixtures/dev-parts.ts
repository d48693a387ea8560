import { randomBytes } from 'node:crypto';
import { assembleProcess } from '../assemble-process.ts';
import { sandboxFromFlags } from '../sandbox-flags.ts';
import approvalAgent from './approval-agent.ts';

/**
 * What `longrun dev` builds — a worker for the approval fixture and the API on a free loopback
 * port — over the store at `url`. The idle worker looks for work once a minute only: a session
 * it runs sooner, it was woken for.
 */
export async function assembleDevParts(url: string) {
  return assembleProcess({
    store: { url, applicationName: 'longrun-assemble-test' },
    log: () => undefined,
    worker: {
      sandbox: await sandboxFromFlags({}, [approvalAgent]),
      id: { stable: `assemble-${randomBytes(4).toString('hex')}` },
      pollMs: 60_000,
    },
    api: {
      auth: 'none',
      host: '127.0.0.1',
      port: 0,
      portGiven: true,
      agents: ['approval-fixture'],
    },
  });
}
