import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ModelClient } from '@longrun/core';
import { Worker, defineAgent } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { summary } from './stats.ts';

/**
 * Latency from a model emitting a token to a live reader in the worker's process receiving it,
 * at `tokensPerSecond`, while the harness also persists the stream coalesced. The reader is the
 * in-process hook the CLI's live view uses; cross-process readers follow the log.
 */
export async function measureTokenDelivery(
  make: () => Promise<StoreTarget>,
  tokens: number,
  tokensPerSecond: number,
) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const emittedAt: number[] = [];
    const latencies: number[] = [];
    const intervalMs = 1000 / tokensPerSecond;
    const model: ModelClient = {
      id: 'bench:paced',
      async stream(_request, onDelta) {
        const start = performance.now();
        for (let i = 0; i < tokens; i++) {
          const due = start + i * intervalMs;
          const wait = due - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          emittedAt.push(performance.now());
          onDelta(`t${i} `);
        }
        return {
          text: emittedAt.map((_, i) => `t${i} `).join(''),
          toolCalls: [],
          finishReason: 'stop',
          usage: { inputTokens: 1, outputTokens: tokens },
          modelId: 'bench:paced',
        };
      },
    };
    let received = 0;
    const agent = defineAgent({
      name: 'paced',
      model,
      instructions: '',
      tools: [],
      workspaceRoot: join(target.dir, 'ws'),
    });
    const session = await store.createSession({ agent: 'paced', input: 'go' });
    const worker = new Worker({
      store,
      agents: [agent],
      pollMs: 2,
    });
    worker.on('model.delta', () => {
      latencies.push(performance.now() - (emittedAt[received] ?? performance.now()));
      received++;
    });
    await worker.start();
    await waitForStatus(store, session.id, ['completed'], 300_000);
    await worker.stop();
    const streamed = (await store.readEvents(session.id, 0, 1_000_000)).filter(
      (e) => e.type === 'model.streamed',
    );
    return {
      tokens,
      tokensPerSecond,
      liveDeliveryMs: summary(latencies),
      durableStreamEvents: streamed.length,
    };
  } finally {
    await store.close();
    await target.drop();
  }
}
