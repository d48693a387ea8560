export {
  openStore,
  parseStoreUrl,
  redact,
  storeUrlHelp,
  type OpenStoreOptions,
  type StoreTarget,
} from './store-url.ts';
