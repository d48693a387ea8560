import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sigV4Problem, type SigV4Credentials } from './sigv4-check.ts';

export interface S3TestServer {
  /** `http://127.0.0.1:<port>`: use with forcePathStyle. */
  readonly endpoint: string;
  readonly bucket: string;
  readonly region: string;
  readonly credentials: SigV4Credentials;
  /** Stored objects by key. */
  readonly objects: Map<string, Buffer>;
  /** Every request as `METHOD key`, and how many were refused for their signature. */
  readonly requests: string[];
  readonly refused: { count: number };
  /** Most HEAD requests ever in flight at once. */
  readonly maxConcurrentHeads: { value: number };
  /**
   * When above 1, a HEAD is answered only once this many are in flight (or after 100 ms), so a
   * client's real concurrency shows in maxConcurrentHeads instead of hiding behind fast replies.
   */
  readonly holdHeads: { value: number };
  close(): Promise<void>;
}

/**
 * A test-only server on 127.0.0.1 speaking the part of the S3 wire protocol a blob store uses:
 * path-style PUT (with `If-None-Match: *`), GET and HEAD of objects in one bucket. Every request
 * must carry a valid SigV4 signature for the test credentials and, for PUT, a payload hash that
 * matches the body, as real S3 requires. s3rver 3.7.1 was tried: it installs and runs on Node 24,
 * but it ignores `If-None-Match` (a second put replaces a stored blob, failing the contract) and
 * brings 116 packages, so these few lines stand in for it.
 */
export async function startS3TestServer(bucket = 'longrun-test'): Promise<S3TestServer> {
  const credentials = { accessKeyId: 'AKIDLONGRUNTEST', secretAccessKey: 'longrun-test-secret' };
  const objects = new Map<string, Buffer>();
  const requests: string[] = [];
  const refused = { count: 0 };
  const maxConcurrentHeads = { value: 0 };
  const holdHeads = { value: 1 };
  let heads = 0;
  const waiting: (() => void)[] = [];
  const gateHead = async (): Promise<void> => {
    if (heads >= holdHeads.value) {
      waiting.splice(0).forEach((release) => release());
      return;
    }
    await new Promise<void>((resolve) => {
      waiting.push(resolve);
      setTimeout(resolve, 100).unref();
    });
  };
  const server = createServer((req, res) => {
    const track = req.method === 'HEAD';
    if (track) maxConcurrentHeads.value = Math.max(maxConcurrentHeads.value, ++heads);
    res.on('close', () => {
      if (track) heads -= 1;
    });
    void handle(req, res).catch((error: unknown) =>
      reply(res, 500, 'InternalError', String(error)),
    );
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const prefix = `/${bucket}/`;
    const key = path.startsWith(prefix) ? decodeURIComponent(path.slice(prefix.length)) : null;
    requests.push(`${method} ${key ?? path}`);
    const problem = sigV4Problem(method, req.url ?? '/', req.headers, credentials);
    if (problem !== null) {
      refused.count += 1;
      return reply(
        res,
        403,
        problem === 'SignatureDoesNotMatch' ? problem : 'AccessDenied',
        problem,
      );
    }
    if (key === null || key === '') return reply(res, 404, 'NoSuchBucket', 'only one bucket here');
    if (method === 'HEAD') await gateHead();
    if (method === 'PUT') return put(req, res, key, body);
    const stored = objects.get(key);
    if (method === 'HEAD' || method === 'GET') {
      if (stored === undefined)
        return reply(res, 404, 'NoSuchKey', 'The specified key does not exist.', method === 'HEAD');
      res.writeHead(200, {
        'content-length': stored.length,
        etag: etagOf(stored),
        'content-type': 'application/octet-stream',
      });
      res.end(method === 'GET' ? stored : undefined);
      return;
    }
    reply(res, 405, 'MethodNotAllowed', `${method} is not supported here`);
  }
  function put(req: IncomingMessage, res: ServerResponse, key: string, body: Buffer): void {
    const declared = String(req.headers['x-amz-content-sha256'] ?? '');
    if (!/^[0-9a-f]{64}$/.test(declared))
      return reply(res, 400, 'NotImplemented', `payload hash ${declared} not supported`);
    if (createHash('sha256').update(body).digest('hex') !== declared)
      return reply(res, 400, 'XAmzContentSHA256Mismatch', 'body does not match');
    if (req.headers['if-none-match'] === '*' && objects.has(key))
      return reply(res, 412, 'PreconditionFailed', 'exists');
    objects.set(key, body);
    res.writeHead(200, { etag: etagOf(body) });
    res.end();
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    region: 'us-east-1',
    credentials,
    objects,
    requests,
    refused,
    maxConcurrentHeads,
    holdHeads,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function etagOf(body: Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of req) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function reply(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headOnly = false,
): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  res.writeHead(status, {
    'content-type': 'application/xml',
    ...(headOnly ? {} : { 'content-length': Buffer.byteLength(xml) }),
  });
  res.end(headOnly ? undefined : xml);
}
