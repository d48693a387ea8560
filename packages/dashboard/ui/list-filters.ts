// The sessions list's filters as the API's query: a search text and a day range.

export interface ListFilterInputs {
  /** The search box, as typed. */
  search: string;
  /** `<input type="date">` values ("2026-12-04", or "" for none), in the browser's time zone. */
  from: string;
  to: string;
}

export interface ListQuery {
  q: string | undefined;
  createdFrom: number | null;
  createdTo: number | null;
}

/** The first millisecond of a local day ("2026-12-04"), or of the day after it; null for none. */
export function dayStartMs(value: string, dayAfter = false): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (match === null) return null;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  return new Date(y, m - 1, d + (dayAfter ? 1 : 0)).getTime();
}

/** From the start of `from` to the last millisecond of `to`, both days included. */
export function listQuery(inputs: ListFilterInputs): ListQuery {
  const q = inputs.search.trim().slice(0, 200);
  const end = dayStartMs(inputs.to, true);
  return {
    q: q === '' ? undefined : q,
    createdFrom: dayStartMs(inputs.from),
    createdTo: end === null ? null : end - 1,
  };
}
