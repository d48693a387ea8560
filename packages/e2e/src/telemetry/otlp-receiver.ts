import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import root from 'otlp-proto-root/build/src/generated/root.js';

/** A span as the receiver decoded it: ids in hex, attributes as plain values. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  attributes: Record<string, unknown>;
  events: { name: string; attributes: Record<string, unknown> }[];
  statusCode: number;
  serviceName: unknown;
}

interface KeyValue {
  key: string;
  value?: Record<string, unknown>;
}

const trace = (root as unknown as ProtoRoot).opentelemetry.proto.collector.trace.v1;

/**
 * An OTLP/HTTP trace receiver on 127.0.0.1 (a free port): `POST /v1/traces` with a protobuf
 * `ExportTraceServiceRequest`, decoded with OpenTelemetry's own generated protobuf code (the
 * opentelemetry-proto definitions as @opentelemetry/otlp-transformer 0.216 ships them compiled).
 * Every span of every request is kept, duplicates included: the test counts them.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests it could not decode, and why (each answered 400). */
  readonly errors: string[] = [];
  requests = 0;
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  static async start(): Promise<OtlpReceiver> {
    const server = createServer();
    const receiver = new OtlpReceiver(server);
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces') {
          res.writeHead(404).end();
          return;
        }
        try {
          receiver.#take(Buffer.concat(chunks));
        } catch (error) {
          receiver.errors.push(String(error));
          res.writeHead(400).end(String(error));
          return;
        }
        const body = trace.ExportTraceServiceResponse.encode({}).finish();
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #take(body: Buffer): void {
    this.requests += 1;
    const request = trace.ExportTraceServiceRequest.decode(body) as DecodedRequest;
    for (const rs of request.resourceSpans ?? []) {
      const serviceName = plain(rs.resource?.attributes ?? [])['service.name'];
      for (const ss of rs.scopeSpans ?? [])
        for (const s of ss.spans ?? [])
          this.spans.push({
            traceId: hex(s.traceId),
            spanId: hex(s.spanId),
            parentSpanId: hex(s.parentSpanId),
            name: s.name,
            kind: s.kind,
            startMs: nanosToMs(s.startTimeUnixNano),
            endMs: nanosToMs(s.endTimeUnixNano),
            attributes: plain(s.attributes ?? []),
            events: (s.events ?? []).map((e) => ({
              name: e.name,
              attributes: plain(e.attributes ?? []),
            })),
            statusCode: s.status?.code ?? 0,
            serviceName,
          });
    }
  }
}

/** Bytes in hex; a field left out (a root span's parent) decodes as null or empty: ''. */
function hex(bytes: Uint8Array | null | undefined): string {
  return bytes === undefined || bytes === null ? '' : Buffer.from(bytes).toString('hex');
}

function nanosToMs(nanos: unknown): number {
  return Number(BigInt(String(nanos)) / 1_000_000n);
}

/** OTLP key-values as plain values (strings, numbers, booleans, arrays). */
function plain(kvs: KeyValue[]): Record<string, unknown> {
  return Object.fromEntries(kvs.map((kv) => [kv.key, anyValue(kv.value)]));
}

/** An AnyValue: the field of its oneof that was sent (decoded messages own only those). */
function anyValue(v: Record<string, unknown> | undefined): unknown {
  if (v === undefined || v === null) return undefined;
  if (Object.hasOwn(v, 'stringValue')) return v.stringValue;
  if (Object.hasOwn(v, 'boolValue')) return v.boolValue;
  if (Object.hasOwn(v, 'intValue')) return Number(String(v.intValue));
  if (Object.hasOwn(v, 'doubleValue')) return v.doubleValue;
  const array = v.arrayValue as { values?: Record<string, unknown>[] } | undefined;
  if (Object.hasOwn(v, 'arrayValue')) return (array?.values ?? []).map(anyValue);
  return undefined;
}

interface DecodedSpan {
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  parentSpanId?: Uint8Array | null;
  name: string;
  kind: number;
  startTimeUnixNano: unknown;
  endTimeUnixNano: unknown;
  attributes?: KeyValue[];
  events?: { name: string; attributes?: KeyValue[] }[];
  status?: { code?: number };
}

interface DecodedRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: { spans?: DecodedSpan[] }[];
  }[];
}

interface ProtoMessage {
  decode(bytes: Uint8Array): unknown;
  encode(message: object): { finish(): Uint8Array };
}

interface ProtoRoot {
  opentelemetry: {
    proto: {
      collector: {
        trace: {
          v1: { ExportTraceServiceRequest: ProtoMessage; ExportTraceServiceResponse: ProtoMessage };
        };
      };
    };
  };
}
