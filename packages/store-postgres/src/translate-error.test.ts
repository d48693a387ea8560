import { describe, expect, it } from 'vitest';
import { LongrunError } from '@longrun/core';
import { storeSqlStates, translatePgError } from './translate-error.ts';

// Pure mapping from driver errors to LongrunError codes; needs no server.
const target = { host: 'db.internal', port: '5432', database: 'longrun' };
const pgError = (code: string, message: string, detail?: string): Error =>
  Object.assign(new Error(message), { code, detail });

describe('translatePgError', () => {
  it('maps the store functions’ own SQLSTATEs, keeping their message and details', () => {
    const e = translatePgError(
      pgError(storeSqlStates.seqConflict, 'session s is at seq 3, not 2', '{"headSeq":3}'),
      'appending events',
      target,
    );
    expect(e).toMatchObject({
      code: 'SEQ_CONFLICT',
      message: 'session s is at seq 3, not 2',
      details: { headSeq: 3 },
    });
    expect(translatePgError(pgError(storeSqlStates.leaseLost, 'stale'), 'x', target).code).toBe(
      'LEASE_LOST',
    );
    expect(translatePgError(pgError(storeSqlStates.notFound, 'gone'), 'x', target).code).toBe(
      'NOT_FOUND',
    );
    expect(translatePgError(pgError(storeSqlStates.signalNotPending, 'no'), 'x', target).code).toBe(
      'INVALID_STATE',
    );
  });

  it('makes every dropped or refused connection a retryable STORE_UNAVAILABLE that names the server', () => {
    const dropped = [
      pgError('57P01', 'terminating connection due to administrator command'),
      Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      new Error('Connection terminated unexpectedly'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('Query read timeout'),
      // pg's connect timeout: a server that accepts TCP and never answers.
      new Error('timeout expired'),
      Object.assign(
        new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], ''),
        {},
      ),
    ];
    for (const error of dropped) {
      const e = translatePgError(error, 'appending events', target);
      expect(e).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: true });
      expect(e.message).toContain('db.internal:5432/longrun');
    }
  });

  it('says a write may have committed only when one was sent: not for a read, not for a refused connect', () => {
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:5432'), {
      code: 'ECONNREFUSED',
    });
    const unknownOutcome = /a write in flight may or may not have committed/;
    expect(translatePgError(reset, 'appending events', target).message).toMatch(unknownOutcome);
    expect(translatePgError(reset, 'appending events', target, 'write').message).toMatch(
      unknownOutcome,
    );
    for (const [error, kind] of [
      [reset, 'read'],
      [refused, 'write'],
      [new AggregateError([refused, refused], ''), 'write'],
    ] as const) {
      const e = translatePgError(error, 'listing sessions', target, kind);
      expect(e.message).not.toMatch(unknownOutcome);
      expect(e.message).toContain('nothing was written; retry once it answers');
    }
  });

  it('names a pool that shares server connections per transaction when a prepared statement is missing or taken', () => {
    for (const [code, message] of [
      ['42P05', 'prepared statement "longrun_claimNext" already exists'],
      ['26000', 'prepared statement "longrun_getSession" does not exist'],
    ] as const) {
      const e = translatePgError(pgError(code, message), 'claiming a session', target);
      expect(e).toMatchObject({ code: 'STORE_UNAVAILABLE', retryable: false });
      expect(e.message).toContain(`claiming a session: ${message}`);
      expect(e.message).toMatch(
        /db\.internal:5432\/longrun .*pool_mode=transaction.*pool_mode=session/,
      );
    }
  });

  it('maps a full disk, and passes unknown errors through as INTERNAL with the driver message', () => {
    expect(translatePgError(pgError('53100', 'could not extend file'), 'x', target)).toMatchObject({
      code: 'STORAGE_FULL',
      retryable: true,
    });
    const unknown = translatePgError(pgError('XX000', 'something odd'), 'reading events', target);
    expect(unknown).toMatchObject({ code: 'INTERNAL' });
    expect(unknown.message).toBe('reading events: something odd');
    const mine = new LongrunError('LEASE_LOST', 'already translated');
    expect(translatePgError(mine, 'x', target)).toBe(mine);
  });
});
