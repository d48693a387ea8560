import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadFixture, startWireServer, type WireServer } from './testing.ts';

let server: WireServer;
beforeAll(async () => {
  server = await startWireServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.violations.length = 0;
});

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${server.baseURL}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const chatBody = { model: 'm', stream: true, messages: [{ role: 'user', content: 'hi' }] };
const anthropicBody = {
  model: 'm',
  stream: true,
  max_tokens: 10,
  messages: [{ role: 'user', content: 'hi' }],
};

describe('wire server framing, byte for byte', () => {
  it('Chat Completions: data lines, then [DONE]', async () => {
    server.reply({ fixture: 'openai-chat/text' });
    const res = await post('/chat/completions', chatBody);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { events } = loadFixture('openai-chat/text');
    expect(await res.text()).toBe(
      events.map((e) => `data: ${e.data}\n\n`).join('') + 'data: [DONE]\n\n',
    );
  });

  it('Anthropic Messages: an event line named by the payload type, no sentinel', async () => {
    server.reply({ fixture: 'anthropic/text' });
    const res = await post('/messages', anthropicBody);
    const { events } = loadFixture('anthropic/text');
    expect(events[0]!.type).toBe('message_start');
    expect(await res.text()).toBe(
      events.map((e) => `event: ${e.type}\ndata: ${e.data}\n\n`).join(''),
    );
  });

  it('a malformed event is the first half of its JSON; the rest of the stream follows', async () => {
    server.reply({ fixture: 'openai-chat/text', malformedEvent: 1 });
    const lines = (await (await post('/chat/completions', chatBody)).text()).split('\n\n');
    const { events } = loadFixture('openai-chat/text');
    expect(lines[1]).toBe(
      `data: ${events[1]!.data.slice(0, Math.ceil(events[1]!.data.length / 2))}`,
    );
    expect(lines[2]).toBe(`data: ${events[2]!.data}`);
  });

  it('a cut connection makes the body read fail after the events before it', async () => {
    server.reply({ fixture: 'anthropic/text', cutAfterEvents: 3 });
    const res = await post('/messages', anthropicBody);
    const reader = res.body!.getReader();
    let received = '';
    const read = async () => {
      for (;;) {
        const next = await reader.read();
        if (next.done) return;
        received += Buffer.from(next.value as Uint8Array).toString('utf8');
      }
    };
    await expect(read()).rejects.toThrow();
    expect(received.split('\n\n').filter((e) => e !== '')).toHaveLength(3);
  });

  it('a stalled stream sends its events, then nothing, holding the connection open', async () => {
    server.reply({ fixture: 'anthropic/text', stallAfterEvents: 3 });
    const controller = new AbortController();
    const res = await fetch(`${server.baseURL}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(anthropicBody),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let received = '';
    // Bounded: the fixture has more events than this; the third one comes or the test times out.
    while (received.split('\n\n').length <= 3) {
      const next = await reader.read();
      if (next.done) throw new Error('the stalled stream ended');
      received += Buffer.from(next.value as Uint8Array).toString('utf8');
    }
    const more = reader.read().then(() => 'more');
    // The connection is open and silent: what ends the read is the client going away.
    controller.abort();
    await expect(more).rejects.toThrow();
    expect(received.split('\n\n').filter((e) => e !== '')).toHaveLength(3);
  });

  it('a status reply carries the retry headers and an error body in the protocol shape', async () => {
    server.reply({ status: 429, retryAfter: '2', retryAfterMs: 1500, message: 'slow down' });
    const res = await post('/messages', anthropicBody);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(res.headers.get('retry-after-ms')).toBe('1500');
    expect(await res.json()).toEqual({
      type: 'error',
      error: { type: 'rate_limit_error', message: 'slow down' },
    });
  });
});

describe('wire server checks on every request', () => {
  it('records a tool call without a result and answers 400 like the real API, keeping the queued reply', async () => {
    server.reply({ fixture: 'openai-chat/text' });
    const res = await post('/chat/completions', {
      ...chatBody,
      messages: [
        { role: 'user', content: 'hi' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_1', type: 'function', function: { name: 't', arguments: '{}' } },
          ],
        },
        { role: 'user', content: 'well?' },
      ],
    });
    expect(res.status).toBe(400);
    expect(server.violations).toMatchObject([
      { request: server.requests.length, kind: 'call-without-result' },
    ]);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain(
      'call_1',
    );
    expect(server.pending()).toBe(1);
    expect((await post('/chat/completions', chatBody)).status).toBe(200);
  });

  it('records a request that came with no reply queued', async () => {
    const res = await post('/responses', { model: 'm', stream: true, input: [] });
    expect(res.status).toBe(500);
    expect(server.violations).toMatchObject([{ kind: 'unscripted-request' }]);
  });

  it('records a fixture of the wrong protocol, a non-streaming request and an unknown path', async () => {
    server.reply({ fixture: 'anthropic/text' });
    expect((await post('/chat/completions', chatBody)).status).toBe(500);
    expect((await post('/chat/completions', { ...chatBody, stream: false })).status).toBe(400);
    expect((await post('/embeddings', {})).status).toBe(404);
    expect(server.violations.map((v) => v.kind)).toEqual([
      'wrong-protocol',
      'not-streaming',
      'unknown-path',
    ]);
  });
});
