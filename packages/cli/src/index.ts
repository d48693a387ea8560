export { openStore, redact, storeUrlHelp, type OpenStoreOptions } from './store-url.ts';
