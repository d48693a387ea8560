/**
 * The writer thread: owns the connection that makes every write of one SqliteStore, so that the
 * commits and their fsyncs (synchronous=FULL) run here instead of on the event loop of the
 * thread that serves sessions. Requests queue in this thread's port while a commit runs and are
 * committed together (group-commit.ts): the thread takes every request in the port, commits
 * them, answers, and sleeps on the doorbell (writer-protocol.ts) when the port is empty. Started
 * by sqlite-writer.ts.
 */
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { commitBatch } from './group-commit.ts';
import { WriterFailure } from './writer-failure.ts';
import { statementCache } from './writer-db.ts';
import {
  doorbellSlot,
  sleepUntilRung,
  toWireError,
  type WriteRequest,
  type WriterMessage,
  type WriterThreadData,
} from './writer-protocol.ts';
import { openWriterConnection } from './writer-connection.ts';
import { growWriteAheadLog } from './wal-growth.ts';

const port = parentPort;
if (port === null)
  throw new Error('sqlite-writer-thread.ts runs as a worker thread (sqlite-writer.ts starts it)');
const post = (message: WriterMessage) => port.postMessage(message);

let opened: ReturnType<typeof openWriterConnection> | undefined;
try {
  // The store's own connection opened the file and migrated it before this thread started.
  opened = openWriterConnection(workerData as WriterThreadData, { migrate: false });
} catch (error) {
  post({
    failed: toWireError(error, `opening SQLite database ${(workerData as WriterThreadData).path}`),
  });
  port.close();
}

if (opened !== undefined) {
  const { connection, durability } = opened;
  const db = statementCache(connection);
  const doorbell = new Int32Array((workerData as WriterThreadData).doorbell);

  /** Every request in the port now, oldest first. */
  const received = (): WriteRequest[] => {
    const batch: WriteRequest[] = [];
    for (let m = receiveMessageOnPort(port); m !== undefined; m = receiveMessageOnPort(port))
      batch.push(m.message as WriteRequest);
    return batch;
  };

  /** Commits and answers `batch`; false once it held `close` (the connection is closed). */
  const flush = (batch: WriteRequest[]): boolean => {
    const closeAt = batch.findIndex((request) => request.name === 'close');
    const writes = closeAt === -1 ? batch : batch.slice(0, closeAt);
    const replies = commitBatch(connection, db, writes);
    if (closeAt === -1) {
      post({ replies });
      return true;
    }
    connection.close();
    for (const request of batch.slice(closeAt)) {
      replies.push(
        request.name === 'close'
          ? { id: request.id, ok: true, value: undefined }
          : {
              id: request.id,
              ok: false,
              error: toWireError(
                new WriterFailure('STORE_UNAVAILABLE', 'the SQLite store is closed'),
                'writing',
              ),
            },
      );
    }
    post({ replies });
    return false;
  };

  post({ opened: durability });
  /**
   * The log is grown to its full size (wal-growth.ts) the first time the thread is idle after a
   * commit: a store opened only to be read writes nothing, and writes sent meanwhile (the few
   * milliseconds it takes) wait here in the port, not on the caller's event loop.
   */
  let logGrowth: 'after a commit' | 'when idle' | 'done' = 'after a commit';
  // A request is posted before its ring: one rung after `rang` was read is in the port when
  // taken below, or wakes the wait at once (its count is no longer `rang`).
  for (let open = true; open;) {
    const rang = Atomics.load(doorbell, doorbellSlot.rings);
    const batch = received();
    if (batch.length > 0) {
      open = flush(batch);
      if (logGrowth === 'after a commit') logGrowth = 'when idle';
    } else if (logGrowth === 'when idle') {
      logGrowth = 'done';
      growWriteAheadLog(connection, (workerData as WriterThreadData).path);
    } else sleepUntilRung(doorbell, rang);
  }
  // Nothing else holds the thread: it ends once its port is closed.
  port.close();
}
