import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { modelRequestOf, type ModelClient, type StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import {
  loadFixture,
  startWireServer,
  wireClients,
  type WireServer,
} from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent } from './define-agent.ts';

/**
 * A stream cut mid-text, end to end: the real AI SDK provider clients against the wire server,
 * which sends a recorded stream's first events and then destroys the socket. Anthropic takes an
 * assistant prefill, so the retry sends the durable partial text as the last assistant message
 * and the server (like the model) answers with the rest; OpenAI Chat Completions does not, so
 * the retry starts over and gets the whole answer again. Either way the turn's text is the
 * recorded answer exactly once.
 */

type Payload = {
  delta?: { type?: string; text?: string };
  choices?: { delta?: { content?: string | null } }[];
};

/** The text a recorded stream streams (Anthropic text deltas, or Chat Completions content). */
function fixtureText(name: string): string {
  return loadFixture(name)
    .events.map((e) => {
      const payload = JSON.parse(e.data) as Payload;
      if (payload.delta?.type === 'text_delta') return payload.delta.text ?? '';
      return payload.choices?.[0]?.delta?.content ?? '';
    })
    .join('');
}

type AnthropicMessage = { role: string; content: string | { type: string; text?: string }[] };

function lastMessageOf(body: unknown): AnthropicMessage | undefined {
  return (body as { messages: AnthropicMessage[] }).messages.at(-1);
}

function prefillOf(body: unknown): string {
  const last = lastMessageOf(body);
  if (last?.role !== 'assistant' || typeof last.content === 'string') return '';
  return last.content.map((b) => b.text ?? '').join('');
}

const ofType = <T extends StoredEvent['type']>(events: StoredEvent[], type: T) =>
  events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);

let server: WireServer;
const anthropicWhole = fixtureText('anthropic/text');

beforeEach(async () => {
  // The model's answer to a continuation: the rest of the recorded answer after the prefill.
  server = await startWireServer({
    generate: (request) => {
      const prefill = prefillOf(request.body);
      return {
        text: anthropicWhole.startsWith(prefill) ? anthropicWhole.slice(prefill.length) : '',
      };
    },
  });
});
afterEach(async () => {
  await server.close();
});

async function runSession(client: ModelClient): Promise<StoredEvent[]> {
  const dir = tempDir('stream-continuation-wire');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  try {
    const agent = defineAgent({
      name: 'fixer',
      model: client,
      instructions: 'You fix failing tests.',
      workspaceRoot: join(dir, 'ws'),
      workspaceSnapshots: false,
    });
    const { id } = await store.createSession({ agent: agent.name, input: 'npm test fails' });
    await runUntil({ store, agents: [agent] }, id);
    expect((await store.getSession(id)).status).toBe('completed');
    return await allEvents(store, id);
  } finally {
    await store.close();
  }
}

/** What the log holds of attempt 1's text: the streamed text a retry may continue. */
const durableText = (events: StoredEvent[]): string =>
  ofType(events, 'model.streamed')
    .filter((e) => e.data.attempt === 1)
    .map((e) => e.data.text)
    .join('');

describe('a stream cut mid-text, over the wire', () => {
  it('Anthropic: the retry prefills the durable partial text and the turn is whole, once', async () => {
    // message_start, content_block_start, ping, then three text deltas: then the socket dies.
    server.reply({ fixture: 'anthropic/text', cutAfterEvents: 6 });
    const events = await runSession(wireClients(server).anthropic!.client);

    expect(server.violations).toEqual([]);
    expect(server.requests).toHaveLength(2);
    const partial = durableText(events);
    expect(partial).toBe('The test fails because `add` subtracts its second argument.');
    expect(lastMessageOf(server.requests[0]!.body)?.role).toBe('user');
    expect(lastMessageOf(server.requests[1]!.body)).toEqual({
      role: 'assistant',
      content: [{ type: 'text', text: partial }],
    });
    expect(ofType(events, 'model.failed')[0]?.data).toMatchObject({
      attempt: 1,
      code: 'MODEL_OUTPUT_INVALID',
    });
    expect(ofType(events, 'model.requested')[1]?.data).toMatchObject({
      attempt: 2,
      continues: { attempt: 1, chars: partial.length },
    });
    const responded = ofType(events, 'model.responded');
    expect(responded).toHaveLength(1);
    expect(responded[0]?.data.text).toBe(anthropicWhole);
  });

  it('OpenAI Chat Completions: no prefill, so the retry starts over and the turn is whole, once', async () => {
    server.reply(
      { fixture: 'openai-chat/text', cutAfterEvents: 4 },
      { fixture: 'openai-chat/text' },
    );
    const events = await runSession(wireClients(server)['openai-chat']!.client);

    expect(server.violations).toEqual([]);
    expect(server.requests).toHaveLength(2);
    expect(durableText(events)).not.toBe('');
    // The retry's request is the first one again: no assistant message at its end.
    const roles = (n: number) =>
      (server.requests[n]!.body as { messages: { role: string }[] }).messages.map((m) => m.role);
    expect(roles(1)).toEqual(roles(0));
    expect(roles(1).at(-1)).toBe('user');
    // A restart: attempt 2's request is recorded by its response (it came before any text was
    // written), and says it continues nothing.
    expect(ofType(events, 'model.requested').map((e) => e.data)).toEqual([
      expect.objectContaining({ attempt: 1 }),
    ]);
    expect(ofType(events, 'model.requested')[0]?.data.continues).toBeUndefined();
    expect(modelRequestOf(ofType(events, 'model.responded')[0]!)).toMatchObject({ attempt: 2 });
    expect(ofType(events, 'model.responded')[0]?.data.text).toBe(fixtureText('openai-chat/text'));
  });
});
