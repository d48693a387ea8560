/** Keeps the head and tail of a long output and says how much was cut, so the model knows. */
export function capOutput(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const head = Math.floor(maxChars * 0.6);
  const tail = maxChars - head;
  const cut = text.length - head - tail;
  return `${text.slice(0, head)}\n[… ${cut} characters cut: output is capped at ${maxChars} characters …]\n${text.slice(text.length - tail)}`;
}
