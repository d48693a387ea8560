export type { ContractDatabase, ContractHarness } from './harness.ts';
export { sessionStoreContract } from './session-store-contract.ts';
