import { describe, expect, it } from 'vitest';
import { BpfProgram } from './bpf-program.ts';
import { buildSeccompFilter } from './seccomp-filter.ts';

/**
 * Runs the generated filter in a small classic-BPF interpreter (only the opcodes the generator
 * emits), so that both ABIs' tables are checked here, aarch64 included, which this machine
 * cannot run. The attack suite checks the x86_64 filter in the real kernel.
 */
function run(filter: Uint8Array, data: { nr: number; arch: number; args?: bigint[] }): number {
  const view = new DataView(filter.buffer, filter.byteOffset, filter.byteLength);
  const seccompData = new DataView(new ArrayBuffer(64));
  seccompData.setInt32(0, data.nr, true);
  seccompData.setUint32(4, data.arch, true);
  (data.args ?? []).forEach((arg, i) => seccompData.setBigUint64(16 + i * 8, arg, true));
  let a = 0;
  for (let pc = 0, steps = 0; steps < 1_000; steps += 1) {
    const code = view.getUint16(pc * 8, true);
    const jt = view.getUint8(pc * 8 + 2);
    const jf = view.getUint8(pc * 8 + 3);
    const k = view.getUint32(pc * 8 + 4, true);
    pc += 1;
    if (code === 0x20) a = seccompData.getUint32(k, true);
    else if (code === 0x54) a = (a & k) >>> 0;
    else if (code === 0x15) pc += a === k ? jt : jf;
    else if (code === 0x35) pc += a >= k ? jt : jf;
    else if (code === 0x45) pc += (a & k) !== 0 ? jt : jf;
    else if (code === 0x06) return k;
    else throw new Error(`opcode ${code.toString(16)} not emitted by the generator`);
  }
  throw new Error('filter did not return');
}

const ALLOW = 0x7fff0000;
const EPERM = 0x00050001;
const ENOSYS = 0x00050026;
const KILL = 0x80000000;
const CLONE_NEWUSER = 0x10000000n;
const SIGCHLD = 17n;

const abis = [
  {
    arch: 'x64',
    audit: 0xc000003e,
    nr: { clone: 56, clone3: 435, ioctl: 16, unshare: 272, read: 0, bpf: 321, io_uring_setup: 425 },
  },
  {
    arch: 'arm64',
    audit: 0xc00000b7,
    nr: {
      clone: 220,
      clone3: 435,
      ioctl: 29,
      unshare: 97,
      read: 63,
      bpf: 280,
      io_uring_setup: 425,
    },
  },
] as const;

describe.each(abis)('seccomp filter for $arch', ({ arch, audit, nr }) => {
  const filter = buildSeccompFilter(arch);
  const call = (n: number, args: bigint[] = []): number =>
    run(filter, { nr: n, arch: audit, args });

  it.each([
    ['read', nr.read, [], ALLOW],
    ['plain fork via clone', nr.clone, [SIGCHLD], ALLOW],
    ['clone with CLONE_NEWUSER', nr.clone, [CLONE_NEWUSER | SIGCHLD], EPERM],
    ['clone with CLONE_NEWNET', nr.clone, [0x40000000n], EPERM],
    ['clone3 (flags out of reach)', nr.clone3, [], ENOSYS],
    ['unshare', nr.unshare, [CLONE_NEWUSER], EPERM],
    ['bpf', nr.bpf, [], EPERM],
    ['io_uring_setup', nr.io_uring_setup, [], EPERM],
    ['ioctl TIOCSTI', nr.ioctl, [0n, 0x5412n], EPERM],
    ['ioctl TIOCSTI with high bits set', nr.ioctl, [0n, 0xffffffff00005412n], EPERM],
    ['ioctl TIOCLINUX', nr.ioctl, [0n, 0x541cn], EPERM],
    ['ioctl FIONREAD', nr.ioctl, [0n, 0x541bn], ALLOW],
  ] as const)('%s', (_name, number, args, expected) => {
    expect(call(number, [...args])).toBe(expected);
  });

  it('kills a syscall made through a foreign ABI (i386 int 0x80)', () => {
    expect(run(filter, { nr: 20, arch: 0x40000003 })).toBe(KILL);
  });

  if (arch === 'x64') {
    it('refuses the x32 ABI', () => {
      expect(call(0x40000000 | 39)).toBe(EPERM);
    });
  }
});

describe('bpf program assembly', () => {
  it('resolves forward labels to offsets and refuses unknown ones', () => {
    const bytes = new BpfProgram()
      .jumpIfEqual(1, { label: 'x' })
      .ret(0)
      .label('x')
      .ret(1)
      .assemble();
    expect([...bytes.subarray(0, 4)]).toEqual([0x15, 0, 1, 0]);
    expect(() => new BpfProgram().jumpIfEqual(1, { label: 'nowhere' }).assemble()).toThrow(
      /unknown label/,
    );
  });
});
