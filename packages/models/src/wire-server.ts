import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkTranscript, type TranscriptViolationKind } from './transcript-check.ts';
import { compactionFor } from './wire-compaction.ts';
import { loadFixture } from './wire-fixtures.ts';
import {
  contextExceededBody,
  generatedEvents,
  requestTokens,
  type GeneratedTurn,
} from './wire-window.ts';
import { reasoningOf, reasoningProblem, type ServedReasoning } from './wire-reasoning.ts';
import {
  errorBody,
  frameEvent,
  protocolByPath,
  streamTrailer,
  transcriptSteps,
  type WireProtocol,
} from './wire-protocols.ts';

/** What the server answers to one request; replies are used in the order they were queued. */
export type WireReply = StreamReply | StatusReply;

export interface StreamReply {
  /** `<protocol>/<name>`, a file under packages/models/fixtures, e.g. `openai-chat/tool-call`. */
  fixture: string;
  /** Send this many events, then destroy the socket: a connection cut mid-stream. */
  cutAfterEvents?: number;
  /** Send this many events, then end the response cleanly, without the stream's end markers. */
  endAfterEvents?: number;
  /**
   * Send this many events, then nothing more, holding the connection open until the client goes
   * or the server closes: a provider stalled mid-stream, while a test kills the worker reading it.
   */
  stallAfterEvents?: number;
  /** Send event number N (0-based) as truncated, unparseable JSON. */
  malformedEvent?: number;
  /** Real pause between events, for tests that watch deltas arrive. Default 0. */
  eventDelayMs?: number;
  /**
   * The request must carry back, unchanged and in place, the reasoning of every earlier reply
   * that had some (Anthropic thinking blocks with their signatures and redacted thinking;
   * OpenAI Responses reasoning items with their ids and encrypted content). If it does not,
   * the server answers 400, as the real APIs do, and records a `reasoning-dropped` violation.
   */
  expectReasoningBack?: boolean;
}

export interface StatusReply {
  status: number;
  /** Sent as the `retry-after` header (seconds, or an HTTP date). */
  retryAfter?: string;
  /** Sent as the `retry-after-ms` header (OpenAI's). */
  retryAfterMs?: number;
  message?: string;
}

export interface WireRequest {
  /** 1-based, in arrival order. */
  index: number;
  protocol: WireProtocol | null;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** Its tokens as the server counts them (`requestTokens`), when it enforces a window. */
  tokens?: number;
}

export interface WireServerOptions {
  /**
   * Refuse a request longer than this many tokens (counted by `requestTokens`) with the
   * provider's own 400 body (Anthropic: "prompt is too long: N tokens > M maximum"; OpenAI:
   * `context_length_exceeded`), recording a `context-exceeded` violation. Default: no limit.
   */
  contextWindowTokens?: number;
  /**
   * Answers a request when no reply is queued: a turn made up for it (text, tool calls with
   * their own ids), streamed in the request's protocol (Anthropic Messages or OpenAI Chat
   * Completions) with the request's counted tokens as its input usage. For long sessions. An
   * Anthropic request that asks for native compaction and passes its trigger gets a compaction
   * block first (`compactionFor`).
   */
  generate?: (request: WireRequest) => GeneratedTurn;
  /**
   * Keep each request's headers and body in `requests` (default true). `false` keeps its index,
   * protocol, path and tokens only: a bench's 10,000 requests of up to half a megabyte each
   * would otherwise hold gigabytes in the process whose memory it measures.
   */
  keepBodies?: boolean;
}

export type WireViolationKind =
  | TranscriptViolationKind
  | 'unscripted-request'
  | 'wrong-protocol'
  | 'unknown-path'
  | 'not-streaming'
  | 'bad-body'
  | 'reasoning-dropped'
  | 'context-exceeded'
  | 'server-error';

export interface WireViolation {
  request: number;
  kind: WireViolationKind;
  message: string;
}

export interface WireServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `url + '/v1'`: the `baseURL` for the OpenAI, Anthropic and OpenAI-compatible providers. */
  readonly baseURL: string;
  readonly requests: WireRequest[];
  /**
   * Everything wrong with the requests received: above all, a transcript in which a tool call
   * has no result (checked on every request, like the real APIs, which answer it with 400 — and
   * so does this server). Tests assert this is empty.
   */
  readonly violations: WireViolation[];
  /** Queues replies for the next requests. */
  reply(...replies: WireReply[]): void;
  /** Replies queued and not yet used. */
  pending(): number;
  close(): Promise<void>;
}

/**
 * A real HTTP server on 127.0.0.1 (random port) that speaks the OpenAI Chat Completions, OpenAI
 * Responses and Anthropic Messages streaming protocols, replaying recorded fixtures with scripted
 * faults — so the real SDK provider clients can be tested end to end without a remote API.
 */
export async function startWireServer(options: WireServerOptions = {}): Promise<WireServer> {
  const queue: WireReply[] = [];
  const requests: WireRequest[] = [];
  const violations: WireViolation[] = [];
  const served: ServedReasoning[] = [];
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      // A failure here is a bug of the server itself: make it loud in the test, not a hang.
      violations.push({ request: requests.length, kind: 'server-error', message: String(error) });
      res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const protocol = protocolByPath[path] ?? null;
    const raw = await readBody(req);
    // Numbered once the body is in, so requests that overlap still get distinct numbers.
    const index = requests.length + 1;
    const violate = (kind: WireViolationKind, message: string): void => {
      violations.push({ request: index, kind, message });
    };
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      body = raw;
    }
    const request: WireRequest = { index, protocol, path, headers: req.headers, body };
    const windowTokens = options.contextWindowTokens;
    if (windowTokens !== undefined || options.generate !== undefined) {
      request.tokens = requestTokens(body);
    }
    requests.push(
      options.keepBodies === false ? { ...request, headers: {}, body: undefined } : request,
    );
    if (protocol === null) {
      violate(
        'unknown-path',
        `${req.method} ${path} is none of ${Object.keys(protocolByPath).join(', ')}`,
      );
      return sendJson(res, 404, { error: { message: `no route ${path}` } });
    }
    // A refused request leaves the queue as it was: the reply is for the next good request.
    if (!checkRequest(protocol, body, violate)) {
      const message = violations.at(-1)?.message ?? 'bad request';
      return sendJson(res, 400, errorBody(protocol, 400, message));
    }
    const tokens = request.tokens ?? 0;
    if (windowTokens !== undefined && tokens > windowTokens) {
      violate('context-exceeded', `${protocol} request of ${tokens} tokens > ${windowTokens}`);
      return sendJson(res, 400, contextExceededBody(protocol, tokens, windowTokens));
    }
    const next = queue[0];
    if (next === undefined && options.generate !== undefined) {
      const turn = options.generate(request);
      const compaction = compactionFor(protocol, body, tokens, index);
      const events = generatedEvents(
        protocol,
        compaction === null ? turn : { ...turn, compaction },
        tokens,
        index,
      );
      return sendStream(res, protocol, events, { fixture: 'generated' });
    }
    if (next !== undefined && 'fixture' in next && next.expectReasoningBack === true) {
      const problems = served.flatMap((r) => reasoningProblem(body, r) ?? []);
      if (problems.length > 0 || served.length === 0) {
        const message = problems[0] ?? 'no earlier reply had reasoning to send back';
        violate('reasoning-dropped', `${protocol} request: ${message}`);
        return sendJson(res, 400, errorBody(protocol, 400, message));
      }
    }
    const reply = queue.shift();
    if (reply === undefined) {
      violate('unscripted-request', `request ${index} (${protocol}) came with no reply queued`);
      return sendJson(res, 500, errorBody(protocol, 500, 'wire server: no reply queued'));
    }
    if ('status' in reply) return sendStatus(res, protocol, reply);
    const fixture = loadFixture(reply.fixture);
    if (fixture.protocol !== protocol) {
      violate('wrong-protocol', `fixture ${reply.fixture} queued for a ${protocol} request`);
      return sendJson(res, 500, errorBody(protocol, 500, 'wire server: wrong fixture'));
    }
    // Only a reply sent whole reached the client: a cut one's reasoning is not owed back.
    const whole =
      reply.cutAfterEvents === undefined &&
      reply.endAfterEvents === undefined &&
      reply.stallAfterEvents === undefined &&
      reply.malformedEvent === undefined;
    const reasoning = whole ? reasoningOf(protocol, fixture.events) : null;
    if (reasoning !== null) served.push(reasoning);
    return sendStream(res, protocol, fixture.events, reply);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    violations,
    reply: (...replies) => void queue.push(...replies),
    pending: () => queue.length,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The checks every request gets; false when the real API would refuse it with 400. */
function checkRequest(
  protocol: WireProtocol,
  body: unknown,
  violate: (kind: WireViolationKind, message: string) => void,
): boolean {
  let steps;
  try {
    steps = transcriptSteps(protocol, body);
  } catch (error) {
    violate(
      'bad-body',
      `${protocol} request: ${error instanceof Error ? error.message : String(error)}`,
    );
    return false;
  }
  const found = checkTranscript(steps);
  for (const v of found) violate(v.kind, `${protocol} request: ${v.message}`);
  if ((body as { stream?: unknown }).stream !== true) {
    violate('not-streaming', `${protocol} request did not ask for a stream`);
    return false;
  }
  return found.length === 0;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function sendStatus(res: ServerResponse, protocol: WireProtocol, reply: StatusReply): void {
  const headers: Record<string, string> = {};
  if (reply.retryAfter !== undefined) headers['retry-after'] = reply.retryAfter;
  if (reply.retryAfterMs !== undefined) headers['retry-after-ms'] = String(reply.retryAfterMs);
  const message = reply.message ?? `scripted ${reply.status}`;
  sendJson(res, reply.status, errorBody(protocol, reply.status, message), headers);
}

async function sendStream(
  res: ServerResponse,
  protocol: WireProtocol,
  events: { type: string | undefined; data: string }[],
  reply: StreamReply,
): Promise<void> {
  // A hang-up is handled by `write`; without a listener it would also crash the test process.
  res.on('error', () => undefined);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  });
  const stopAt = Math.min(
    events.length,
    reply.cutAfterEvents ?? reply.endAfterEvents ?? reply.stallAfterEvents ?? events.length,
  );
  for (const [i, event] of events.slice(0, stopAt).entries()) {
    if (i > 0 && reply.eventDelayMs !== undefined) await delay(reply.eventDelayMs);
    // Half of the JSON text: what a proxy that splits a chunk, or a buggy server, sends.
    const data =
      i === reply.malformedEvent
        ? event.data.slice(0, Math.ceil(event.data.length / 2))
        : event.data;
    await write(res, frameEvent(protocol, data, event.type));
  }
  if (reply.cutAfterEvents !== undefined) {
    // Everything written so far has been handed to the kernel; the client sees it, then the cut.
    res.socket?.destroy();
    return;
  }
  if (reply.stallAfterEvents !== undefined) return;
  if (reply.endAfterEvents === undefined) await write(res, streamTrailer(protocol));
  res.end();
}

/**
 * Writes one chunk and waits until it is handed to the socket. A client that hung up (it read the
 * end event and let go, or it aborted) is not the server's failure: the rest is dropped quietly.
 */
function write(res: ServerResponse, chunk: string): Promise<void> {
  if (chunk === '' || res.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    res.write(chunk, () => resolve());
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
