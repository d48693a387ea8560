import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countWords } from '../src/words.js';

test('counts words across punctuation', () => {
  assert.equal(countWords('one, two; three!'), 3);
});
