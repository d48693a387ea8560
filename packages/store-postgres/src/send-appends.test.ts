import { describe, expect, it } from 'vitest';
import { encodeAppend, event, workerId, type SessionId } from '@longrun/core';
import { sendAppends, type QueuedAppend, type RunWrite } from './send-appends.ts';
import type { Row } from './rows.ts';

const target = { host: '127.0.0.1', port: '5432', database: 'test' };

function queued(session: string): QueuedAppend {
  const fence = { sessionId: session as SessionId, owner: workerId('w'), epoch: 1 };
  const encoded = encodeAppend({
    fence,
    expectedSeq: 1,
    events: [event('user.messaged', { text: 'hi', signalId: null })],
  });
  return { nowMs: null, fence, expectedSeq: 1, encoded, packed: [encoded.events[0]!.data] };
}

/** A server error as pg reports it: a message and a SQLSTATE. */
function serverError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * A `write` that refuses every batch statement with `batchError` and answers each lone append by
 * `alone` (a row, or an error thrown), recording the statements it was given.
 */
function fakeWrite(batchError: Error, alone: (session: string) => Row | Error) {
  const sent: string[] = [];
  const write: RunWrite = async (name, values) => {
    if (name === 'appendBatch') {
      sent.push('batch');
      throw batchError;
    }
    const session = values[1] as string;
    sent.push(session);
    const answer = alone(session);
    if (answer instanceof Error) throw answer;
    return [answer];
  };
  return { write, sent };
}

describe('sendAppends', () => {
  it('sends a batch refused for its values again one append at a time, each settling alone', async () => {
    const { write, sent } = fakeWrite(serverError('22021', 'invalid byte sequence'), (session) =>
      session === 'ses_b' ? serverError('22021', 'invalid byte sequence') : { at_ms: '7' },
    );
    const outcomes = await sendAppends(
      [queued('ses_a'), queued('ses_b'), queued('ses_c')],
      write,
      target,
    );
    expect(sent).toEqual(['batch', 'ses_a', 'ses_b', 'ses_c']);
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(outcomes[0]).toEqual({ ok: true, value: { headSeq: 2, atMs: 7 } });
    expect(outcomes[1]?.ok === false && outcomes[1].error).toMatchObject({ code: '22021' });
  });

  it('stops sending once the connection fails, failing the appends not sent with it', async () => {
    const dropped = new Error('Connection terminated unexpectedly');
    const { write, sent } = fakeWrite(serverError('54000', 'too large'), (session) =>
      session === 'ses_b' ? dropped : { at_ms: '7' },
    );
    const outcomes = await sendAppends(
      [queued('ses_a'), queued('ses_b'), queued('ses_c')],
      write,
      target,
    );
    expect(sent).toEqual(['batch', 'ses_a', 'ses_b']);
    expect(outcomes).toEqual([
      { ok: true, value: { headSeq: 2, atMs: 7 } },
      { ok: false, error: dropped },
      { ok: false, error: dropped },
    ]);
  });

  it('rejects the whole batch on any other failure: nobody knows what committed', async () => {
    for (const failure of [
      new Error('Connection terminated unexpectedly'),
      serverError('57P01', 'terminating connection due to administrator command'),
      serverError('53100', 'could not extend file: No space left on device'),
    ]) {
      const { write, sent } = fakeWrite(failure, () => ({ at_ms: '7' }));
      const error = await sendAppends([queued('ses_a'), queued('ses_b')], write, target).catch(
        (e: unknown) => e,
      );
      expect(error).toBe(failure);
      expect(sent).toEqual(['batch']);
    }
  });
});
