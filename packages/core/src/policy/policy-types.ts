import type { JsonValue } from '../json.ts';

/** What a rule, or a whole policy, says about a request. */
export type PolicyAction = 'allow' | 'deny' | 'ask';

/**
 * Matches one value inside a tool call's (validated) arguments. `path` names it with dots and
 * array indexes (`command`, `options.mode`, `files.0.path`); own properties only. The matcher
 * holds when the value exists and passes every test given: `glob` and `regex` (unanchored: anchor
 * it yourself) test strings only, `oneOf` compares JSON values exactly.
 */
export interface ArgumentMatcher {
  path: string;
  glob?: string;
  regex?: string;
  oneOf?: readonly JsonValue[];
}

/**
 * A rule about tool calls: the tool (a name, or a glob over names: `*`, `git_*`), the action,
 * and optionally the argument values it applies to (all must match). Among the rules that match
 * a call, the most restrictive wins (deny over ask over allow), whatever their order.
 */
export interface ToolRule {
  tool: string;
  action: PolicyAction;
  args?: readonly ArgumentMatcher[];
  /** Named in decisions instead of `tools[i]`. */
  id?: string;
  /** Why the rule exists, said in the decisions it makes. */
  reason?: string;
}

/**
 * Globs relative to the workspace (`src/**`, `docs/*.md`, `**` for all; one starting with `!`
 * excludes: `['**', '!secrets/**']`). Writing a path needs a `write` glob; reading needs a `read` or
 * a `write` glob. Paths are resolved (`a/../b` is `b`) before they are matched; one outside the
 * workspace is denied.
 */
export interface PathRules {
  read?: readonly string[];
  write?: readonly string[];
}

/** A sub-agent an agent may start, and the most its child may be granted. */
export interface SubAgentGrant {
  /** The sub-agent's name, or a glob over names. */
  agent: string;
  /** The child's upper bound (besides its parent's whole policy, which bounds it anyway). */
  policy?: Policy;
}

/**
 * What an agent (or a tenant, or a parent for its child) may do, as data (DESIGN §7). Once a
 * policy is set, anything it does not mention is denied: a section left out allows nothing of
 * its kind (no tools, no paths, no hosts, no secrets, no sub-agents).
 */
export interface Policy {
  tools?: readonly ToolRule[];
  paths?: PathRules;
  /** Hosts that may be reached: names or globs (`api.github.com`, `*.example.com`; `!` excludes). */
  hosts?: readonly string[];
  /** Secrets that may be used, by name or glob. */
  secrets?: readonly string[];
  subAgents?: readonly SubAgentGrant[];
}

/**
 * One policy of those that bound a session, named for the decisions: `tenant`, `agent`,
 * `parent`, `grant`, `child`... A request is decided by every layer; the most restrictive answer
 * wins, so a layer can only ever take away.
 */
export interface PolicyLayer {
  name: string;
  policy: Policy;
}

/** What is asked of the policy. */
export type PolicyRequest =
  | {
      kind: 'tool';
      tool: string;
      /** The call's arguments, as validated by the tool's schema. */
      args: unknown;
      /** Workspace paths the call reads and writes (the tool declares them from its input). */
      reads?: readonly string[];
      writes?: readonly string[];
      /** Hosts the call reaches. */
      hosts?: readonly string[];
      /** Sub-agents the call starts. */
      subAgents?: readonly string[];
    }
  | { kind: 'path'; access: 'read' | 'write'; path: string }
  | { kind: 'host'; host: string }
  | { kind: 'secret'; name: string }
  | { kind: 'subAgent'; agent: string };

/** The answer, with what decided it (`tools[2]`, a rule's id, `paths.write`, `default`) and why. */
export interface PolicyDecision {
  decision: PolicyAction;
  /** The layer whose answer this is. */
  layer: string;
  rule: string;
  reason: string;
}
