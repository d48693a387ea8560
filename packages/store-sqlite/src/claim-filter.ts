import { checkClaimFilter, type ClaimFilter } from '@longrun/core';

/** A claim filter's agents as the JSON array the claim statements read, or null for any agent. */
export function agentsParam(filter: ClaimFilter | undefined): string | null {
  const agents = checkClaimFilter(filter);
  return agents === null ? null : JSON.stringify(agents);
}
