/**
 * The forms a secret value is commonly found in, as one regular-expression source: a tool that
 * puts a credential in a URL, a JSON body, an `Authorization: Basic` header or a hex dump leaks
 * it just as surely as one that prints it. Masking the plain value alone let such forms through
 * to the log and the model.
 *
 * Text forms are matched character by character, each character as itself or in any of its
 * escapes, so every mix of them matches: `encodeURIComponent`, `encodeURI`, form encoding (`+`
 * for a space), Python's `quote` (which keeps `/`), upper- or lowercase `%xx`, JSON string
 * escaping one or two levels deep (`\"`, `\\\"`, `\/`, `\u00xx`) and HTML entities. A character's
 * forms differ within their first three characters (save the escapes of a backslash, which nest),
 * so the expression backtracks a few characters at a time, not over the whole text.
 *
 * Binary forms are matched from the value's UTF-8 bytes: hex (lower- or uppercase) and base64 or
 * base64url at each of the three alignments the bytes can have inside a longer encoded text —
 * base64 of the value alone only matches where the value starts a multiple of 3 bytes in. Dump
 * tools lay these out over lines: hex may have a dump's separators between bytes, across its
 * line breaks (`xxd`, `xxd -p`, `hexdump -C`, `od -tx1`), and base64 a line break anywhere
 * (`base64` wraps at 76 columns). A dump's ASCII column, which shows the value in clear split
 * over lines, is masked with the hex around it (lines of up to 32 bytes); the split pieces alone
 * are not matched. Not matched: `hexdump` without `-C` (16-bit words, byte-swapped), `od -c`.
 */

/** Binary forms are matched for values of at least this many bytes: shorter ones are words. */
const minBinaryBytes = 6;

/** A base64 run shorter than this, at an alignment, is not matched: it is too likely by chance. */
const minBase64Chars = 8;

/** A regular-expression source (no flags needed) that matches `value` in its common forms. */
export function secretPatternSource(value: string): string {
  const bytes = Buffer.from(value, 'utf8');
  // A value JSON changes has its own forms inside one JSON string, and inside two.
  const depths = [...value].some(mustEscape) ? [0, 1, 2] : [0];
  const forms = new Set(depths.map((depth) => textForm(value, depth)));
  if (bytes.length >= minBinaryBytes) for (const f of binaryForms(bytes)) forms.add(f);
  const sources = [...forms];
  return sources.length === 1 ? sources.join('') : `(?:${sources.join('|')})`;
}

function binaryForms(bytes: Buffer): string[] {
  return [...hexForms(bytes), ...base64Forms(bytes)];
}

/**
 * The value in text, `depth` JSON strings deep. A character JSON must escape is matched, inside
 * a JSON string, only in its escapes: were a backslash also matched as itself there, a run of
 * them could be split in exponentially many ways.
 */
function textForm(value: string, depth: number): string {
  let source = '';
  for (const ch of value) source += charForm(ch, depth);
  return source;
}

/** One character: itself, or one of its escapes. Letters and digits are never escaped. */
function charForm(ch: string, depth: number): string {
  if (/^[A-Za-z0-9]$/.test(ch)) return ch;
  const forms = new Set<string>();
  if (depth === 0 || !mustEscape(ch)) {
    for (const f of [ch, ...percentForms(ch), ...htmlForms(ch)]) forms.add(f);
  }
  // Escapes a JSON encoder may choose (`\/`, `\u00e9`) are matched at any depth; those it
  // must make (`\"`, `\\`) only at their own.
  let escapes = jsonEscapes(ch);
  if (depth === 0 && mustEscape(ch)) escapes = [];
  for (let level = 1; level <= Math.max(depth, 1); level++) {
    if (level === depth || !mustEscape(ch)) for (const f of escapes) forms.add(f);
    escapes = escapes.map(jsonString);
  }
  const sources = [...forms].map(escapeRegExp);
  return sources.length === 1 ? sources.join('') : `(?:${sources.join('|')})`;
}

const jsonString = (text: string): string => JSON.stringify(text).slice(1, -1);

/** `"`, `\\` and control characters: never themselves inside a JSON string. */
const mustEscape = (ch: string): boolean => jsonString(ch) !== ch;

function percentForms(ch: string): string[] {
  const upper = [...Buffer.from(ch, 'utf8')]
    .map((b) => `%${b.toString(16).padStart(2, '0').toUpperCase()}`)
    .join('');
  return [upper, upper.toLowerCase(), ...(ch === ' ' ? ['+'] : [])];
}

/** A character's escapes inside one JSON string: the short one, `\/`, `\uXXXX` in either case. */
function jsonEscapes(ch: string): string[] {
  const escaped = jsonString(ch);
  const unicode = [...Array(ch.length).keys()]
    .map((i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`)
    .join('');
  return [
    ...(escaped === ch ? [] : [escaped]),
    ...(ch === '/' ? ['\\/'] : []),
    unicode,
    unicode.toUpperCase().replaceAll('\\U', '\\u'),
  ];
}

const namedEntities: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
};

function htmlForms(ch: string): string[] {
  const code = ch.codePointAt(0) ?? 0;
  if (code > 0x7e) return [];
  const named = namedEntities[ch];
  return [...(named === undefined ? [] : [named]), `&#${code};`, `&#x${code.toString(16)};`];
}

/**
 * Between two bytes of a hex dump: nothing (`xxd -p`, plain hex), a space or two or a colon (`od`,
 * `hexdump -C`, xxd's groups of 2 bytes, `aa:bb`), or the end of a line — with the dump's ASCII
 * column after two spaces (`  token=Zq9n…`, `  |token=Zq9n…|`, at most 34 characters) — and
 * the next line's offset
 * (`00000010: `, `0000020 `). Each branch is deterministic: the ASCII column runs to the line
 * break (it cannot cross one), the offset to a `:` or space (6 to 16 digits: a byte is 2, an xxd
 * group 4), so a failed match backtracks a few characters per byte, never over the text.
 */
const hexSeparator =
  '(?:[ :]{0,2}|(?:  [^\\r\\n]{1,34})?\\r?\\n(?:[0-9a-fA-F]{6,16}(?=[: ]):?)?[ ]*)';

/**
 * The rest of the line a hex dump's match ends on — the following bytes and the ASCII column,
 * which holds the value's last characters in clear — when it is a dump line's (two spaces, a
 * column of at most 34 characters, the line's end). Only ever tried once a whole value matched.
 */
const hexDumpLineRest = '(?:[ 0-9a-fA-F]{0,100}  [^\\r\\n]{1,34}(?=\\r?\\n|$))?';

/** The value's bytes in hex, lower- or uppercase, with a dump's separators between them. */
function hexForms(bytes: Buffer): string[] {
  const pairs = [...bytes].map((b) => b.toString(16).padStart(2, '0'));
  const form = (hex: string[]): string => hex.join(hexSeparator) + hexDumpLineRest;
  return [form(pairs), form(pairs.map((p) => p.toUpperCase()))];
}

/**
 * The characters of the value's base64 that do not depend on the bytes around it, at each
 * alignment (0, 1 or 2 bytes before it in its group of 3), either alphabet (`+/` or `-_`, also
 * URL-encoded). The last character, which shares its bits with whatever follows, is matched
 * too when it ends the encoded text (with its padding).
 */
function base64Forms(bytes: Buffer): string[] {
  const forms: string[] = [];
  for (let before = 0; before < 3; before++) {
    const encoded = Buffer.concat([Buffer.alloc(before), bytes])
      .toString('base64')
      .replace(/=+$/, '');
    // Character i holds bits [6i, 6i + 6); the value's own bits are [8 * before, 8 * (before + n)).
    const first = Math.ceil((8 * before) / 6);
    const end = Math.floor((8 * (before + bytes.length)) / 6);
    const stable = encoded.slice(first, end);
    if (stable.length < minBase64Chars) continue;
    const last = encoded.slice(end);
    const tail =
      last === ''
        ? ''
        : `(?:${base64Break}${base64Source(last)}(?:${base64Break}(?:=|%3[dD])){0,2})?`;
    forms.push(base64Source(stable) + tail);
  }
  return forms;
}

/**
 * A line break, or its JSON escape, that an encoder wrapping its output (coreutils `base64` at 76
 * columns, MIME at 76, PEM at 64) may put between any two characters. It cannot be taken for a
 * base64 character, so it adds no backtracking.
 */
const base64Break = '(?:\\r?\\n|\\\\r?\\\\n)?';

function base64Source(text: string): string {
  return [...text]
    .map((c) => (c === '+' ? '(?:[+-]|%2[bB])' : c === '/' ? '(?:[/_]|%2[fF])' : c))
    .join(base64Break);
}

function escapeRegExp(text: string): string {
  let source = '';
  for (const ch of text) {
    const code = ch.charCodeAt(0);
    if (/[\\^$.*+?()[\]{}|/-]/.test(ch)) source += `\\${ch}`;
    else if (code < 0x20 || code > 0x7e) {
      // Code units, so the source needs no `u` flag (astral characters are surrogate pairs).
      for (let i = 0; i < ch.length; i++)
        source += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    } else source += ch;
  }
  return source;
}
