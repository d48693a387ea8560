import { describe, expect, it } from 'vitest';
import { isLongrunError } from './errors.ts';
import { ReplySpin, defaultReplySpinMs, replySpinMs } from './reply-spin.ts';

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ReplySpin', () => {
  it('keeps the loop turning while a reply is awaited, and stops once it came', async () => {
    let waiting = true;
    const spin = new ReplySpin(10_000, () => waiting);
    spin.sent();
    expect(spin.spinning).toBe(true);
    for (let i = 0; i < 5; i++) await turn();
    expect(spin.spinning).toBe(true);
    waiting = false;
    await turn();
    await turn();
    expect(spin.spinning).toBe(false);
  });

  it('stops at its budget when the reply is slower, and starts again with the next request', async () => {
    const spin = new ReplySpin(5, () => true);
    spin.sent();
    const started = performance.now();
    while (spin.spinning) await turn();
    expect(performance.now() - started).toBeGreaterThanOrEqual(5);
    spin.sent();
    expect(spin.spinning).toBe(true);
  });

  it('stops spinning once replies have lately been slower than its budget, and starts again when they are quick', () => {
    const spin = new ReplySpin(1, () => true);
    spin.answered(0.3);
    spin.sent();
    expect(spin.spinning).toBe(true);
    // One slow answer among quick ones does not stop it.
    const quiet = new ReplySpin(1, () => true);
    quiet.answered(0.3);
    quiet.answered(3);
    quiet.sent();
    expect(quiet.spinning).toBe(true);
    // A run of slow ones (a slow disk, a loaded machine) does.
    const slow = new ReplySpin(1, () => true);
    for (let i = 0; i < 20; i++) slow.answered(5);
    slow.sent();
    expect(slow.spinning).toBe(false);
    for (let i = 0; i < 40; i++) slow.answered(0.2);
    slow.sent();
    expect(slow.spinning).toBe(true);
  });

  it('never spins with a budget of 0', () => {
    const spin = new ReplySpin(0, () => true);
    spin.sent();
    expect(spin.spinning).toBe(false);
  });

  it('leaves timers and I/O their turns while it spins', async () => {
    let waiting = true;
    const spin = new ReplySpin(10_000, () => waiting);
    spin.sent();
    // A timer fires, and a promise settled by it resolves, while the loop is kept awake.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(spin.spinning).toBe(true);
    waiting = false;
    while (spin.spinning) await turn();
  });
});

describe('replySpinMs', () => {
  it('takes the option, else LONGRUN_REPLY_SPIN_MS, else the default', () => {
    expect(replySpinMs(undefined, {})).toBe(defaultReplySpinMs);
    expect(replySpinMs(undefined, { LONGRUN_REPLY_SPIN_MS: ' ' })).toBe(defaultReplySpinMs);
    expect(replySpinMs(undefined, { LONGRUN_REPLY_SPIN_MS: '0' })).toBe(0);
    expect(replySpinMs(undefined, { LONGRUN_REPLY_SPIN_MS: '2.5' })).toBe(2.5);
    expect(replySpinMs(3, { LONGRUN_REPLY_SPIN_MS: '0' })).toBe(3);
  });

  it('refuses what is not 0 to 100 milliseconds, naming where it came from', () => {
    for (const [option, env, named] of [
      [undefined, { LONGRUN_REPLY_SPIN_MS: 'fast' }, /LONGRUN_REPLY_SPIN_MS is "fast"/],
      [undefined, { LONGRUN_REPLY_SPIN_MS: '-1' }, /LONGRUN_REPLY_SPIN_MS is "-1"/],
      [101, {}, /replySpinMs is 101/],
      [Number.NaN, {}, /replySpinMs is NaN/],
    ] as const) {
      let thrown: unknown;
      try {
        replySpinMs(option, env);
      } catch (error) {
        thrown = error;
      }
      expect(isLongrunError(thrown, 'INVALID_ARGUMENT')).toBe(true);
      expect((thrown as Error).message).toMatch(named);
      expect((thrown as Error).message).toMatch(/from 0 to 100/);
    }
  });
});
