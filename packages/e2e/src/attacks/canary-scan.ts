import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs';
import { join } from 'node:path';

/** A secret planted in a process's environment, and the forms it could leak in. */
export interface Canary {
  name: string;
  value: string;
}

export interface Needle {
  /** e.g. `OPENAI_API_KEY base64+1` */
  label: string;
  bytes: Buffer;
}

export interface Hit {
  where: string;
  needle: string;
}

/**
 * Fresh canaries from random hex: a realistic API key, and one with the characters that URL
 * and JSON encodings change (so those encodings differ from the plain form and are tried).
 */
export function makeCanaries(token: (chars: number) => string): Canary[] {
  return [
    { name: 'OPENAI_API_KEY', value: `sk-canary-${token(32)}` },
    { name: 'ANTHROPIC_API_KEY', value: `sk-ant-canary-${token(32)}` },
    { name: 'LONGRUN_CANARY_PASSWORD', value: `pw ${token(16)}:"p@ss/w+rd=&\\'<>` },
  ];
}

/** Base64 of `bytes` at each of the three alignments it can have inside a longer stream. */
function base64Forms(bytes: Buffer): { label: string; text: string }[] {
  const forms: { label: string; text: string }[] = [];
  for (let skip = 0; skip < 3; skip++) {
    const whole = Math.floor((bytes.length - skip) / 3) * 3;
    const part = bytes.subarray(skip, skip + whole);
    forms.push({ label: `base64+${skip}`, text: part.toString('base64') });
    forms.push({ label: `base64url+${skip}`, text: part.toString('base64url') });
  }
  return forms;
}

/** The plain value and its common encodings; the random core alone catches partial leaks. */
export function needlesOf(canary: Canary): Needle[] {
  const forms: { label: string; text: string }[] = [];
  const core = /[0-9a-f]{16,}/.exec(canary.value)?.[0] ?? canary.value;
  for (const [which, value] of [
    ['', canary.value],
    [' core', core],
  ] as const) {
    const bytes = Buffer.from(value, 'utf8');
    forms.push(
      { label: `plain${which}`, text: value },
      { label: `json${which}`, text: JSON.stringify(value).slice(1, -1) },
      { label: `url${which}`, text: encodeURIComponent(value) },
      { label: `hex${which}`, text: bytes.toString('hex') },
      { label: `HEX${which}`, text: bytes.toString('hex').toUpperCase() },
      ...base64Forms(bytes).map((f) => ({ label: `${f.label}${which}`, text: f.text })),
    );
  }
  const needles = forms.map((f) => ({
    label: `${canary.name} ${f.label}`,
    bytes: Buffer.from(f.text, 'utf8'),
  }));
  needles.push({
    label: `${canary.name} utf16le`,
    bytes: Buffer.from(canary.value, 'utf16le'),
  });
  return needles;
}

export function scanBytes(where: string, bytes: Buffer, needles: readonly Needle[]): Hit[] {
  return needles.filter((n) => bytes.includes(n.bytes)).map((n) => ({ where, needle: n.label }));
}

const chunkBytes = 8 * 1024 * 1024;

/** Scans one file in chunks that overlap by the longest needle, so no match straddles a seam. */
function scanFile(path: string, needles: readonly Needle[]): Hit[] {
  const overlap = Math.max(...needles.map((n) => n.bytes.length));
  const fd = openSync(path, 'r');
  const found = new Set<string>();
  try {
    const buffer = Buffer.alloc(chunkBytes + overlap);
    let carried = 0;
    for (let position = 0; ;) {
      const read = readSync(fd, buffer, carried, chunkBytes, position);
      if (read === 0) break;
      const view = buffer.subarray(0, carried + read);
      for (const n of needles) if (view.includes(n.bytes)) found.add(n.label);
      position += read;
      carried = Math.min(overlap, view.length);
      view.copy(buffer, 0, view.length - carried);
    }
  } finally {
    closeSync(fd);
  }
  return [...found].map((needle) => ({ where: path, needle }));
}

/**
 * Every regular file under `dir`, never following a link (a link's target text is scanned as
 * the link's content). Returns the hits and how many files and bytes were read, so a scan that
 * read nothing cannot pass unnoticed. Bounded: at most 100,000 entries.
 */
export function scanTree(
  dir: string,
  needles: readonly Needle[],
): { hits: Hit[]; files: number; bytes: number; paths: string[] } {
  const result = { hits: [] as Hit[], files: 0, bytes: 0, paths: [] as string[] };
  const pending = [dir];
  let seen = 0;
  for (let path = pending.pop(); path !== undefined && seen < 100_000; path = pending.pop()) {
    seen += 1;
    try {
      const stat = lstatSync(path);
      if (stat.isDirectory()) {
        for (const name of readdirSync(path)) pending.push(join(path, name));
      } else if (stat.isFile()) {
        result.hits.push(...scanFile(path, needles));
        result.files += 1;
        result.bytes += stat.size;
        result.paths.push(path);
      } else if (stat.isSymbolicLink()) {
        const target = Buffer.from(readlinkSync(path), 'utf8');
        result.hits.push(...scanBytes(`${path} (link)`, target, needles));
      }
    } catch (error) {
      // Removed while a running process was being scanned (a -wal file at its checkpoint).
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
  return result;
}
