// @longrun/workspace/testing: the contract every blob store passes, as a Vitest suite.
export * from './blob-store-contract.ts';
