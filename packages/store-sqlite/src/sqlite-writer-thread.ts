/**
 * The writer thread: owns the connection that makes every write of one SqliteStore, so that the
 * commits and their fsyncs (synchronous=FULL) run here instead of on the event loop of the
 * thread that serves sessions. Requests queue in this thread's port while a commit runs and are
 * committed together at the next turn (group-commit.ts). Started by sqlite-writer.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { commitBatch } from './group-commit.ts';
import { WriterFailure } from './writer-failure.ts';
import { statementCache } from './writer-db.ts';
import {
  toWireError,
  type WriteRequest,
  type WriterMessage,
  type WriterOptions,
} from './writer-protocol.ts';
import { openWriterConnection } from './writer-connection.ts';

const port = parentPort;
if (port === null)
  throw new Error('sqlite-writer-thread.ts runs as a worker thread (sqlite-writer.ts starts it)');
const post = (message: WriterMessage) => port.postMessage(message);

let opened: ReturnType<typeof openWriterConnection> | undefined;
try {
  // The store's own connection opened the file and migrated it before this thread started.
  opened = openWriterConnection(workerData as WriterOptions, { migrate: false });
} catch (error) {
  post({
    failed: toWireError(error, `opening SQLite database ${(workerData as WriterOptions).path}`),
  });
  port.close();
}

if (opened !== undefined) {
  const { connection, durability } = opened;
  const db = statementCache(connection);
  let queue: WriteRequest[] = [];

  const flush = () => {
    const batch = queue;
    queue = [];
    const closeAt = batch.findIndex((request) => request.name === 'close');
    const writes = closeAt === -1 ? batch : batch.slice(0, closeAt);
    const replies = commitBatch(connection, db, writes);
    if (closeAt === -1) {
      post({ replies });
      return;
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
    // Nothing else holds the thread: it ends once its port is closed.
    port.close();
  };

  port.on('message', (request: WriteRequest) => {
    queue.push(request);
    // Every request already in the port is delivered before the check phase: they share a commit.
    if (queue.length === 1) setImmediate(flush);
  });
  post({ opened: durability });
}
