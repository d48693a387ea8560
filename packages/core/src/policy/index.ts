export type {
  ArgumentMatcher,
  PathRules,
  Policy,
  PolicyAction,
  PolicyDecision,
  PolicyLayer,
  PolicyRequest,
  SubAgentGrant,
  ToolRule,
} from './policy-types.ts';
export { checkPolicy } from './policy-check.ts';
export { childPolicyLayers, evaluatePolicy } from './evaluate-policy.ts';
export { hostName, workspacePath } from './request-paths.ts';
export { writableDirectories } from './writable-directories.ts';
