import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SessionId, StoredEvent } from '@longrun/core';
import { loadFixture, startWireServer, type WireServer } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import { SpawnedWorker } from '../spawned-worker.ts';
import { targets, type StoreTarget } from '../store-targets.ts';

/**
 * A model stream cut by a kill -9 is continued by the next worker from the text the log holds
 * (issue 13). A worker process runs an agent on a raw AI SDK Anthropic model pointed at the wire
 * server, which sends the recorded answer's first three text deltas and then stalls. Once the
 * streamed text is durable the worker is SIGKILLed; another worker takes the session over.
 * Invariants: its request ends with the durable text as the assistant's prefill, exactly; the
 * turn's text is the recorded answer, whole and not duplicated; the server saw no bad request.
 */
const script = fileURLToPath(new URL('./stream-worker-process.ts', import.meta.url));

/** The recorded answer: the text deltas of the fixture, in order. */
const whole = loadFixture('anthropic/text')
  .events.map((e) => {
    const payload = JSON.parse(e.data) as { delta?: { type?: string; text?: string } };
    return payload.delta?.type === 'text_delta' ? (payload.delta.text ?? '') : '';
  })
  .join('');

type Message = { role: string; content: { type: string; text?: string }[] };
const lastMessage = (body: unknown): Message | undefined =>
  (body as { messages: Message[] }).messages.at(-1);

for (const target of targets) {
  describe.runIf(target.run)(`a model stream cut by a kill -9, ${target.name}`, () => {
    let server: WireServer;
    let db: StoreTarget;
    const workers: SpawnedWorker[] = [];
    beforeEach(async () => {
      // The model's answer to a continuation: the rest of the recorded answer after the prefill.
      server = await startWireServer({
        generate: (request) => {
          const prefill = lastMessage(request.body)?.content[0]?.text ?? '';
          return { text: whole.startsWith(prefill) ? whole.slice(prefill.length) : whole };
        },
      });
      db = await target.make();
    });
    afterEach(async () => {
      for (const w of workers.splice(0)) await w.kill('SIGKILL');
      await server.close();
      await db.drop();
    });

    it('is continued by the next worker from the durable text, once', async () => {
      // message_start, content_block_start, ping, three text deltas: then nothing.
      server.reply({ fixture: 'anthropic/text', stallAfterEvents: 6 });
      const store = await openStore(db.url);
      try {
        const { id } = await store.createSession({ agent: 'fixer', input: 'npm test fails' });
        const spawn = (name: string) => {
          const w = new SpawnedWorker(script, [db.url, name, db.dir, server.baseURL]);
          workers.push(w);
          return w;
        };
        const first = spawn('w1');
        // The streamed text is durable: kill -9 while the provider still has more to say.
        await first.until(/^ack \d+ model\.streamed$/);
        await first.kill('SIGKILL');

        const second = spawn('w2');
        await second.until(/^ack \d+ session\.(completed|failed)$/, 60_000);
        expect(second.lines).toContainEqual(expect.stringMatching(/session\.completed$/));

        const events = await readAll(store, id);
        const partial = durableText(events);
        // Some of the three deltas (all, unless the machine is slow): a part of the answer.
        expect(partial).not.toBe('');
        expect(whole.startsWith(partial)).toBe(true);
        expect(partial.length).toBeLessThan(whole.length);
        expect(server.violations).toEqual([]);
        expect(server.requests).toHaveLength(2);
        expect(lastMessage(server.requests[1]!.body)).toEqual({
          role: 'assistant',
          content: [{ type: 'text', text: partial }],
        });
        expect(events.find((e) => e.type === 'model.failed')?.data).toMatchObject({
          attempt: 1,
          code: 'WORKER_STOPPED',
        });
        const requested = events.filter((e) => e.type === 'model.requested');
        expect(requested.map((e) => e.data.continues)).toEqual([
          undefined,
          { attempt: 1, chars: partial.length },
        ]);
        const responded = events.filter((e) => e.type === 'model.responded');
        expect(responded.map((e) => e.data.text)).toEqual([whole]);
      } finally {
        await store.close();
      }
    }, 60_000);
  });
}

async function readAll(
  store: Awaited<ReturnType<typeof openStore>>,
  id: SessionId,
): Promise<StoredEvent[]> {
  return store.readEvents(id, 0, 1_000);
}

/** Attempt 1's streamed text as the log holds it. */
function durableText(events: StoredEvent[]): string {
  return events
    .flatMap((e) => (e.type === 'model.streamed' && e.data.attempt === 1 ? [e.data.text] : []))
    .join('');
}
