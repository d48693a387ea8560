import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import {
  checkBlobBytes,
  checkBlobHash,
  LongrunError,
  type BlobPutOptions,
  type BlobStore,
} from '@longrun/core';
import { releaseBytes } from '@longrun/core/release-bytes';
import { mapBounded } from './bounded-concurrency.ts';

export interface S3BlobStoreOptions {
  bucket: string;
  /** Keys are `<prefix>/<hash>` (just `<hash>` without a prefix). */
  prefix?: string;
  /** A client you configured; it is yours to destroy. */
  client?: S3Client;
  /**
   * Or the configuration for a client this store makes and `close` destroys: `endpoint`,
   * `region`, `forcePathStyle` (MinIO and most self-hosted servers need it) and `credentials`
   * (default: the AWS chain — environment, shared files, instance or pod roles).
   */
  clientConfig?: S3ClientConfig;
  /** HEADs in flight at once in `missing`. Default 16. */
  concurrency?: number;
  /**
   * Send puts with `If-None-Match: *` so a stored blob is never replaced (AWS S3, MinIO, R2 honor
   * it). Turn off for a server that rejects the header. Default true.
   */
  conditionalPut?: boolean;
}

/**
 * Blobs in an S3-compatible bucket through the official AWS SDK v3 client (SigV4 signing, the
 * credential chain, retries with backoff). Checksums beyond SigV4's payload hash are asked for
 * only when required, because several S3-compatible servers reject the SDK's default CRC headers
 * and longrun verifies every blob's SHA-256 on read anyway.
 */
// The SDK is loaded on first use: importing it costs ~80 ms, which every worker and CLI start would
// pay (the runtime imports this package) whether or not it stores anything in S3.
let sdk: Promise<typeof import('@aws-sdk/client-s3')> | undefined;
const loadSdk = () => (sdk ??= import('@aws-sdk/client-s3'));

export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly bucket: string;
  readonly #prefix: string;
  readonly #client: Promise<S3Client>;
  readonly #ownsClient: boolean;
  readonly #concurrency: number;
  readonly #conditionalPut: boolean;

  constructor(options: S3BlobStoreOptions) {
    if (options.bucket === '')
      throw new LongrunError('INVALID_ARGUMENT', 'S3BlobStore needs a bucket name');
    this.bucket = options.bucket;
    this.#prefix = (options.prefix ?? '').replace(/\/+$/, '');
    this.#ownsClient = options.client === undefined;
    const given = options.client;
    this.#client =
      given !== undefined
        ? Promise.resolve(given)
        : loadSdk().then(
            ({ S3Client }) =>
              new S3Client({
                requestChecksumCalculation: 'WHEN_REQUIRED',
                responseChecksumValidation: 'WHEN_REQUIRED',
                ...options.clientConfig,
              }),
          );
    // A failed load surfaces at the first call, not as an unhandled rejection.
    this.#client.catch(() => undefined);
    this.#concurrency = options.concurrency ?? 16;
    this.#conditionalPut = options.conditionalPut ?? true;
  }

  keyOf(hash: string): string {
    const key = checkBlobHash(hash);
    return this.#prefix === '' ? key : `${this.#prefix}/${key}`;
  }

  async put(hash: string, bytes: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    await this.#put(hash, bytes);
    // Sent (or stored already): bytes the caller gave up are freed now, not at a collection.
    if (options.transfer === true) releaseBytes(bytes);
  }

  async #put(hash: string, bytes: Uint8Array): Promise<void> {
    const Key = this.keyOf(hash);
    checkBlobBytes(bytes);
    const { PutObjectCommand } = await loadSdk();
    const command = new PutObjectCommand({
      Bucket: this.bucket,
      Key,
      Body: bytes,
      ContentLength: bytes.byteLength,
      ContentType: 'application/octet-stream',
      ...(this.#conditionalPut ? { IfNoneMatch: '*' } : {}),
    });
    try {
      await (await this.#client).send(command);
    } catch (error) {
      // 412: already stored. 409: a concurrent conditional put of the same blob is in progress.
      const status = statusOf(error);
      if (status === 412 || status === 409) return;
      throw translate(error, `storing blob ${hash} in s3://${this.bucket}/${Key}`);
    }
  }

  async get(hash: string): Promise<Uint8Array | null> {
    const Key = this.keyOf(hash);
    const { GetObjectCommand } = await loadSdk();
    try {
      const client = await this.#client;
      const response = await client.send(new GetObjectCommand({ Bucket: this.bucket, Key }));
      if (response.Body === undefined) return new Uint8Array(0);
      return await response.Body.transformToByteArray();
    } catch (error) {
      if (nameOf(error) === 'NoSuchKey') return null;
      throw translate(error, `reading blob ${hash} from s3://${this.bucket}/${Key}`);
    }
  }

  async missing(hashes: readonly string[]): Promise<string[]> {
    const keys = hashes.map((hash) => this.keyOf(hash));
    const { HeadObjectCommand } = await loadSdk();
    const client = await this.#client;
    const present = await mapBounded(keys, this.#concurrency, async (Key) => {
      try {
        await client.send(new HeadObjectCommand({ Bucket: this.bucket, Key }));
        return true;
      } catch (error) {
        if (statusOf(error) === 404) return false;
        throw translate(error, `looking up s3://${this.bucket}/${Key}`);
      }
    });
    return hashes.filter((_, index) => !present[index]);
  }

  /** Releases the client's sockets when this store made the client. */
  async close(): Promise<void> {
    if (this.#ownsClient) (await this.#client.catch(() => null))?.destroy();
  }
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}

function nameOf(error: unknown): string | undefined {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
}

/** SDK errors become LongrunErrors here, once: refusals are not retryable, outages are. */
function translate(error: unknown, what: string): LongrunError {
  if (error instanceof LongrunError) return error;
  const status = statusOf(error);
  const name = nameOf(error) ?? 'Error';
  const refused = status === 403 || status === 401 || name === 'NoSuchBucket';
  const advice = refused
    ? 'check the bucket name, the endpoint and the credentials this worker uses'
    : 'the server did not answer or failed; it is retried';
  return new LongrunError(
    'STORE_UNAVAILABLE',
    `${what} failed: ${name}${status === undefined ? '' : ` (HTTP ${status})`}; ${advice}`,
    { cause: error, retryable: !refused },
  );
}
