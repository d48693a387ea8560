// @longrun/models/testing: models for tests and offline runs. A scripted model (no network), and
// a local server speaking the providers' streaming wire protocols with recorded fixtures, which
// checks every transcript it receives.
export * from './scripted-model.ts';
export * from './transcript-check.ts';
export * from './wire-fixtures.ts';
export * from './wire-protocols.ts';
export * from './wire-server.ts';
export * from './wire-window.ts';
export * from './wire-clients.ts';
export * from './example-session.ts';
