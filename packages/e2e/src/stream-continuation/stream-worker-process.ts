/**
 * A worker process running an agent whose model is a raw AI SDK Anthropic model object pointed
 * at a wire server, for the stream-continuation-across-a-kill-9 test:
 * `node stream-worker-process.ts <storeUrl> <workerId> <dir> <baseURL>`. It reports what
 * startReportingWorker reports.
 */
import { join } from 'node:path';
import { createAnthropic } from '@ai-sdk/anthropic';
import { defineAgent } from '@longrun/runtime';
import { startReportingWorker } from '../reporting-worker.ts';

const [storeUrl = '', id = '', dir = '', baseURL = ''] = process.argv.slice(2);

const agent = defineAgent({
  name: 'fixer',
  instructions: 'You fix failing tests.',
  model: createAnthropic({ apiKey: 'sk-wire-test', baseURL })('claude-sonnet-4-5'),
  workspaceRoot: join(dir, 'workspaces'),
  workspaceSnapshots: false,
});

await startReportingWorker({ storeUrl, id, agents: [agent], purpose: 'stream' });
