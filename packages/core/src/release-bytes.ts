/**
 * Frees the memory behind `bytes` now, instead of when the garbage collector gets to it: its
 * buffer is detached (0 bytes long from then on). For the bytes of a blob once they are written:
 * a snapshot sends gigabytes of chunks through two isolates (this one and the writer thread's),
 * and each let up to 64 MiB of them wait for a collection. Only for a buffer nobody reads
 * again (a whole one: a view's buffer holds other bytes); a detached one, or one Node shares
 * between buffers (which it makes impossible to detach), is left as it is.
 */
export function releaseBytes(bytes: Uint8Array): void {
  const { buffer } = bytes;
  if (!(buffer instanceof ArrayBuffer) || buffer.detached) return;
  if (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength) return;
  try {
    buffer.transfer(0);
  } catch {
    // Not detachable: memory Node shares between buffers, freed with the last of them.
  }
}
