import { describe, expect, it } from 'vitest';
import { approvalSignal, readDecision, readSignal, signalNames } from './signals.ts';
import { failureCode, harnessFailureCodes } from './failure-codes.ts';

describe('the signal table', () => {
  it('reads each runtime signal by name; what is not one reads as null', () => {
    expect(readSignal(signalNames.userMessage, { text: 'more' })).toEqual({ text: 'more' });
    expect(readSignal(signalNames.userMessage, 'more')).toBeNull();
    expect(readSignal(signalNames.cancel, { by: 'ann', reason: 'wrong' })).toEqual({
      by: 'ann',
      reason: 'wrong',
    });
    // A cancel is always a cancel: who and why default.
    expect(readSignal(signalNames.cancel, null)).toEqual({ by: 'unknown', reason: null });
    expect(readSignal(signalNames.resume, { by: 'bo', reason: null, pausedAtSeq: 7 })).toEqual({
      by: 'bo',
      reason: null,
      pausedAtSeq: 7,
    });
    expect(readSignal(signalNames.resume, { by: 'bo', reason: 3, pausedAtSeq: 7 })).toBeNull();
    expect(approvalSignal('apr_1')).toBe('approval:apr_1');
    expect(readDecision({ decision: 'granted', by: 'cy' })).toEqual({
      decision: 'granted',
      by: 'cy',
      reason: null,
    });
    expect(readDecision({ decision: 'maybe', by: 'cy' })).toBeNull();
  });

  it('names every harness failure code once, with what it ends', () => {
    expect(Object.values(failureCode).sort()).toEqual(Object.keys(harnessFailureCodes).sort());
  });
});
