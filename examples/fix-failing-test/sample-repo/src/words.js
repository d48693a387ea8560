/** Counts the words of a text: runs of letters or digits. */
export function countWords(text) {
  return (text.match(/[\p{L}\p{N}]+/gu) ?? []).length;
}
