/**
 * Text as a person must see it before approving it: whatever shows as nothing, or as blank space
 * long enough to push what follows out of view, is written out as a marker — `⟨40,000 spaces⟩`,
 * `⟨tab⟩`, `⟨CR⟩`, `⟨U+202E⟩` (a bidi override), `⟨U+200B ×3⟩` (three zero-width spaces). The
 * marker brackets themselves are marked when the text holds them (`⟨U+27E8⟩`), so every marker
 * shown is one this function wrote and a text cannot fake one.
 *
 * The dashboard's page keeps a copy of this function (its scripts are served as they are, with no
 * bundler, and cannot import this package); a test holds the two to the same output.
 */
export function visibleText(text: string): string {
  return text.replace(
    hidden,
    (run: string, _s: unknown, _b: unknown, _r: unknown, _c: unknown, offset: number) => {
      const [first] = run;
      const count = [...run].length;
      if (first === ' ') return spaces(run, offset === 0 || text[offset - 1] === '\n');
      if (first === '\n') return count < 3 ? run : `\n⟨${grouped(count)} line breaks⟩\n`;
      if (first === '\t') return count === 1 ? '⟨tab⟩' : `⟨${grouped(count)} tabs⟩`;
      if (first === '\r') return count === 1 ? '⟨CR⟩' : `⟨${grouped(count)} CRs⟩`;
      const code = `U+${(first?.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;
      return count === 1 ? `⟨${code}⟩` : `⟨${code} ×${grouped(count)}⟩`;
    },
  );
}

/**
 * Runs of one character that may hide text: spaces; line breaks; controls, format characters
 * (zero-width, bidi controls, tags), other spaces and separators, private-use and lone surrogate
 * code points, default-ignorable ones (variation selectors, fillers), the Braille blank; and the
 * marker brackets. A run of one kind of character is one match.
 */
const hidden =
  /( +)|(\n+)|(([\u27E8\u27E9\p{Cc}\p{Cf}\p{Zs}\p{Zl}\p{Zp}\p{Co}\p{Cs}\p{Default_Ignorable_Code_Point}\u2800])\4*)/gu;

/** Indentation at a line's start up to this many spaces stays as it is (pretty JSON's own). */
const maxIndentSpaces = 64;
/** A run of spaces inside a line this long or longer is marked: padding, not layout. */
const minMarkedSpaces = 16;

function spaces(run: string, lineStart: boolean): string {
  const kept = lineStart ? run.length <= maxIndentSpaces : run.length < minMarkedSpaces;
  return kept ? run : `⟨${grouped(run.length)} spaces⟩`;
}

function grouped(n: number): string {
  return n.toLocaleString('en-US');
}

/**
 * Text as a terminal may print it: its control characters (ESC and the rest of C0 but the line
 * break and the tab; DEL; C1) and its bidi controls written as markers (`⟨U+001B⟩`). A model's
 * text or a tool's output printed raw could move the cursor and rewrite lines already printed,
 * set the terminal's title or clipboard (OSC 52), or reorder what the operator reads. Everything
 * else is left as it is, blank runs too: this is for reading along, not for approving.
 */
export function terminalText(text: string): string {
  return text.replace(terminalControls, (c) =>
    c === '\n' || c === '\t'
      ? c
      : `⟨U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}⟩`,
  );
}

/** C0, DEL and C1 (`\p{Cc}`), and the bidi embeddings, overrides, isolates and marks. */
const terminalControls = /[\p{Cc}\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu;
