import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionId, StoredEvent } from '@longrun/core';
import { startWireServer, type WireServer } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import { SpawnedWorker } from '../spawned-worker.ts';
import { targets, type StoreTarget } from '../store-targets.ts';

/**
 * Reasoning survives a kill -9 between two model turns (issue 11). A worker process runs an agent
 * whose model is a raw AI SDK model object (real @ai-sdk/anthropic and @ai-sdk/openai clients)
 * pointed at the wire server, which answers turn 1 with reasoning — an Anthropic thinking block
 * with its signature plus redacted thinking, or an OpenAI Responses reasoning item with its
 * encrypted content — and a tool call. The worker is SIGKILLed while the tool runs; another
 * worker process takes the session over, runs the tool again and makes turn 2. Invariant: turn
 * 2's request carries the reasoning exactly as served, before the tool result (the server refuses
 * it with 400 otherwise, as the real APIs do), and the session completes.
 */
const workerScript = fileURLToPath(new URL('./reasoning-worker-process.ts', import.meta.url));

const protocols = {
  anthropic: { first: 'anthropic/thinking-tool-call', second: 'anthropic/text' },
  'openai-responses': {
    first: 'openai-responses/reasoning-tool-call',
    second: 'openai-responses/text',
  },
} as const;

for (const target of targets) {
  describe.runIf(target.run)(`reasoning across a kill -9 between turns, ${target.name}`, () => {
    let server: WireServer;
    let db: StoreTarget;
    const workers: SpawnedWorker[] = [];
    beforeEach(async () => {
      server = await startWireServer();
      db = await target.make();
    });
    afterEach(async () => {
      for (const w of workers.splice(0)) await w.kill('SIGKILL');
      await server.close();
      await db.drop();
    });

    it.each(Object.keys(protocols) as (keyof typeof protocols)[])(
      '%s: the second turn, made by another worker, carries the reasoning unchanged',
      async (protocol) => {
        const fixtures = protocols[protocol];
        server.reply(
          { fixture: fixtures.first },
          { fixture: fixtures.second, expectReasoningBack: true },
        );
        const store = await openStore(db.url);
        try {
          const { id } = await store.createSession({
            agent: 'reasoner',
            input: { task: 'npm test fails. Find out why.' },
          });
          const spawnWorker = (name: string) => {
            const w = new SpawnedWorker(workerScript, [
              db.url,
              name,
              db.dir,
              protocol,
              server.baseURL,
            ]);
            workers.push(w);
            return w;
          };

          const first = spawnWorker('w1');
          // The first turn is durable and its tool runs: kill -9 between the two turns.
          await first.until(/^ack \d+ model\.responded$/);
          await first.until(/^tool 1$/);
          await first.kill('SIGKILL');
          expect(server.requests).toHaveLength(1);

          writeFileSync(`${db.dir}/gate`, '');
          const second = spawnWorker('w2');
          await second.until(/^ack \d+ session\.(completed|failed)$/, 60_000);

          expect(server.violations).toEqual([]);
          expect(second.lines).toContainEqual(expect.stringMatching(/session\.completed$/));
          expect(server.requests).toHaveLength(2);
          expect(second.lines).toContain('tool 2');
          const events = await readAll(store, id);
          expect(events.map((e) => e.type)).toEqual(
            expect.arrayContaining(['model.responded', 'tool.completed', 'session.completed']),
          );
          const responded = events.filter((e) => e.type === 'model.responded');
          expect(responded.map((e) => e.data.step)).toEqual([1, 2]);
          const reasoning = responded[0]?.data.parts?.filter((p) => p.type === 'reasoning') ?? [];
          expect(reasoning.length).toBeGreaterThan(0);
          expectCarried(protocol, server.requests[1]!.body, reasoning);
        } finally {
          await store.close();
        }
      },
      90_000,
    );
  });
}

async function readAll(
  store: Awaited<ReturnType<typeof openStore>>,
  id: SessionId,
): Promise<StoredEvent[]> {
  return store.readEvents(id, 0, 1_000);
}

type Reasoning = { text: string; providerMetadata?: Record<string, Record<string, unknown>> };

/** The request body, read here directly (the server checked it too): the reasoning is in place. */
function expectCarried(protocol: string, body: unknown, reasoning: Reasoning[]): void {
  if (protocol === 'anthropic') {
    const { messages } = body as { messages: { role: string; content: { type: string }[] }[] };
    const turn = messages.findIndex((m) => m.role === 'assistant');
    const result = messages.findIndex((m) => m.content.some((b) => b.type === 'tool_result'));
    expect(turn).toBeGreaterThan(-1);
    expect(result).toBeGreaterThan(turn);
    expect(messages[turn]!.content.slice(0, 3)).toEqual([
      {
        type: 'thinking',
        thinking: reasoning[0]!.text,
        signature: reasoning[0]!.providerMetadata!.anthropic!.signature,
      },
      { type: 'redacted_thinking', data: reasoning[1]!.providerMetadata!.anthropic!.redactedData },
      expect.objectContaining({ type: 'tool_use' }),
    ]);
    return;
  }
  const { input } = body as { input: { type?: string; id?: string; encrypted_content?: string }[] };
  const item = input.findIndex((i) => i.type === 'reasoning');
  const output = input.findIndex((i) => i.type === 'function_call_output');
  expect(item).toBeGreaterThan(-1);
  expect(output).toBeGreaterThan(item);
  const { itemId, reasoningEncryptedContent } = reasoning[0]!.providerMetadata!.openai!;
  expect(input[item]).toMatchObject({ id: itemId, encrypted_content: reasoningEncryptedContent });
}
