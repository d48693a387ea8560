import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import type { Pack } from 'tar-stream';

/**
 * A .tar.gz written entry by entry. Entries stream with backpressure: a large file passes through
 * a chunk at a time (the pack waits for the gzip stream, which waits for whoever reads `output`).
 */
export class TarGzWriter {
  readonly #pack: Pack;
  /** The gzip bytes; read it (pipe it to a file or a response) while entries are added. */
  readonly output: Readable;
  readonly #mtime: Date;

  /** tar-stream loads here, not when the runtime does: a worker that writes no bundle skips it. */
  static async open(mtime: Date): Promise<TarGzWriter> {
    const { pack } = await import('tar-stream');
    return new TarGzWriter(pack(), mtime);
  }

  private constructor(tarPack: Pack, mtime: Date) {
    this.#pack = tarPack;
    this.#mtime = mtime;
    const gzip = createGzip();
    this.#pack.on('error', (error) => gzip.destroy(error));
    this.output = this.#pack.pipe(gzip);
  }

  async add(name: string, bytes: Buffer): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#pack.entry(this.#header(name, bytes.length), bytes, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  }

  /** An entry of `size` bytes read from `chunks`, which must yield exactly that many. */
  async addStream(name: string, size: number, chunks: AsyncIterable<Buffer>): Promise<void> {
    let written = 0;
    const done = new Promise<void>((resolve, reject) => {
      const entry = this.#pack.entry(this.#header(name, size), (error) =>
        error ? reject(error) : resolve(),
      );
      void (async () => {
        for await (const chunk of chunks) {
          written += chunk.length;
          if (!entry.write(chunk)) await once(entry, 'drain');
        }
        if (written !== size) {
          throw new Error(`bundle entry ${name}: ${written} bytes read, ${size} expected`);
        }
        entry.end(() => undefined);
      })().catch((cause: unknown) => {
        const error = cause instanceof Error ? cause : new Error(String(cause));
        entry.destroy(error);
        reject(error);
      });
    });
    await done;
  }

  finalize(): void {
    this.#pack.finalize();
  }

  fail(error: Error): void {
    this.#pack.destroy(error);
  }

  #header(name: string, size: number) {
    return { name, size, mode: 0o644, mtime: this.#mtime, type: 'file' as const };
  }
}
