/** A character PostgreSQL's array parser and JSON.stringify would not agree on: a control. */
const controlCharacter = /[\u0000-\u001f]/;

/**
 * A PostgreSQL array literal of texts (null elements as NULL): exactly what pg writes for a
 * `string[]` parameter, made faster. pg escapes each element with two regular-expression
 * replacements (backslash, then quote); an append's elements are JSON texts, a checkpoint among
 * them of tens of kilobytes, so that was the largest part of the client's CPU left in an append. Inside a quoted array element a backslash takes the next character literally, so
 * JSON.stringify's escaping (`\"` and `\\`, done natively) is the same text, for any string
 * without control characters (JSON.stringify writes `\n` for a newline, which the array parser
 * would read as `n`) and without lone surrogates (written as `\udxxx`). Such a string, rare here
 * (an append's JSON texts never hold one raw), is escaped as pg does.
 */
export function textArrayLiteral(items: readonly (string | null)[]): string {
  let literal = '{';
  for (let i = 0; i < items.length; i++) {
    if (i > 0) literal += ',';
    const item = items[i] as string | null;
    literal += item === null ? 'NULL' : quotedElement(item);
  }
  return `${literal}}`;
}

function quotedElement(text: string): string {
  if (!controlCharacter.test(text) && text.isWellFormed()) return JSON.stringify(text);
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A PostgreSQL array literal of integers. */
export function integerArrayLiteral(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}
