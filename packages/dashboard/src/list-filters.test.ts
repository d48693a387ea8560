import { expect, it } from 'vitest';
import { dayStartMs, listQuery } from '../ui/list-filters.ts';
import { formatDuration } from '../ui/format.ts';

it('turns the search box and the day inputs into the list query, both days included', () => {
  const start = new Date(2026, 11, 4).getTime();
  const next = new Date(2026, 11, 5).getTime();
  expect(dayStartMs('2026-12-04')).toBe(start);
  expect(dayStartMs('2026-12-04', true)).toBe(next);
  expect(dayStartMs('')).toBeNull();
  expect(dayStartMs('04/12/2026')).toBeNull();
  expect(listQuery({ search: '  roll out  ', from: '2026-12-04', to: '2026-12-04' })).toEqual({
    q: 'roll out',
    createdFrom: start,
    createdTo: next - 1,
  });
  expect(listQuery({ search: ' ', from: '', to: '' })).toEqual({
    q: undefined,
    createdFrom: null,
    createdTo: null,
  });
  expect(listQuery({ search: 'x'.repeat(300), from: '', to: '' }).q).toHaveLength(200);
});

it('formats durations with their unit', () => {
  expect([0, 340, 1_234, 12_345, 185_000, 7_380_000].map(formatDuration)).toEqual([
    '0 ms',
    '340 ms',
    '1.23 s',
    '12.3 s',
    '3m 05s',
    '2h 03m',
  ]);
});
