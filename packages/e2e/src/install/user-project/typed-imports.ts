// Proof that the installed packages' declarations are what TypeScript sees (not `any`): each
// line below is an error only real types can report, and `@ts-expect-error` fails when it is not.
import { LongrunError } from '@longrun/core';
import { defineAgent } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { SqliteStore } from '@longrun/store-sqlite';

// @ts-expect-error: error codes are a closed set.
export const refused = new LongrunError('NOT_A_CODE', 'x');
// @ts-expect-error: an agent needs a name, instructions, a model and tools.
export const nameless = defineAgent({});
// @ts-expect-error: a scripted turn is an object.
export const numbers = scriptedModel([42]);
// @ts-expect-error: the store opens with options, not a bare path.
export const opened = SqliteStore.open(42);
