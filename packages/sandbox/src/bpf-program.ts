import { LongrunError } from '@longrun/core';

/**
 * A tiny assembler for classic BPF, the language of seccomp filters. Instructions are
 * `struct sock_filter { u16 code; u8 jt; u8 jf; u32 k; }`, 8 bytes each in host byte order
 * (little-endian on x86_64 and aarch64). Jumps name labels; `assemble` resolves them to the
 * forward offsets classic BPF requires (0–255 instructions, never backwards).
 */

// Opcode parts from linux/bpf_common.h.
const BPF_LD = 0x00;
const BPF_ALU = 0x04;
const BPF_JMP = 0x05;
const BPF_RET = 0x06;
const BPF_W = 0x00;
const BPF_ABS = 0x20;
const BPF_K = 0x00;
const BPF_AND = 0x50;
const BPF_JEQ = 0x10;
const BPF_JGE = 0x30;
const BPF_JSET = 0x40;

/** Where a jump goes: the next instruction, or a label placed later in the program. */
export type Target = 'next' | { label: string };

type Item =
  | { kind: 'insn'; code: number; k: number; jt: Target; jf: Target }
  | { kind: 'label'; name: string };

export class BpfProgram {
  private readonly items: Item[] = [];

  /** A = the 32-bit word at `offset` of the seccomp_data. */
  loadWord(offset: number): this {
    return this.insn(BPF_LD | BPF_W | BPF_ABS, offset);
  }

  /** A = A & mask. */
  and(mask: number): this {
    return this.insn(BPF_ALU | BPF_AND | BPF_K, mask);
  }

  jumpIfEqual(value: number, jt: Target, jf: Target = 'next'): this {
    return this.insn(BPF_JMP | BPF_JEQ | BPF_K, value, jt, jf);
  }

  jumpIfAtLeast(value: number, jt: Target, jf: Target = 'next'): this {
    return this.insn(BPF_JMP | BPF_JGE | BPF_K, value, jt, jf);
  }

  /** Jumps to `jt` when A & bits is not zero. */
  jumpIfAnyBit(bits: number, jt: Target, jf: Target = 'next'): this {
    return this.insn(BPF_JMP | BPF_JSET | BPF_K, bits, jt, jf);
  }

  ret(value: number): this {
    return this.insn(BPF_RET | BPF_K, value);
  }

  label(name: string): this {
    this.items.push({ kind: 'label', name });
    return this;
  }

  /** The program as the bytes of a `struct sock_filter` array. */
  assemble(): Uint8Array {
    const labels = this.labelIndexes();
    const insns = this.items.filter((item) => item.kind === 'insn');
    const bytes = new Uint8Array(insns.length * 8);
    const view = new DataView(bytes.buffer);
    insns.forEach((insn, index) => {
      view.setUint16(index * 8, insn.code, true);
      view.setUint8(index * 8 + 2, offsetTo(insn.jt, index, labels));
      view.setUint8(index * 8 + 3, offsetTo(insn.jf, index, labels));
      view.setUint32(index * 8 + 4, insn.k >>> 0, true);
    });
    return bytes;
  }

  private insn(code: number, k: number, jt: Target = 'next', jf: Target = 'next'): this {
    this.items.push({ kind: 'insn', code, k, jt, jf });
    return this;
  }

  private labelIndexes(): Map<string, number> {
    const labels = new Map<string, number>();
    let index = 0;
    for (const item of this.items) {
      if (item.kind === 'insn') index += 1;
      else if (labels.has(item.name)) throw bug(`label ${item.name} placed twice`);
      else labels.set(item.name, index);
    }
    return labels;
  }
}

function offsetTo(target: Target, from: number, labels: Map<string, number>): number {
  if (target === 'next') return 0;
  const to = labels.get(target.label);
  if (to === undefined) throw bug(`jump to unknown label ${target.label}`);
  const offset = to - from - 1;
  if (offset < 0 || offset > 255) throw bug(`jump to ${target.label} is ${offset} instructions`);
  return offset;
}

function bug(message: string): LongrunError {
  return new LongrunError('INTERNAL', `seccomp filter assembly: ${message}`);
}
