export * from './errors.ts';
export * from './ids.ts';
export * from './json.ts';
export * from './events.ts';
export * from './fold.ts';
export * from './ports/clock.ts';
export * from './ports/session-store.ts';
export * from './ports/store-input.ts';
