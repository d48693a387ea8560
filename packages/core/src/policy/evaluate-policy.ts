import picomatch from 'picomatch';
import type { JsonValue } from '../json.ts';
import type {
  ArgumentMatcher,
  Policy,
  PolicyAction,
  PolicyDecision,
  PolicyLayer,
  PolicyRequest,
  SubAgentGrant,
} from './policy-types.ts';
import { hostName, workspacePath } from './request-paths.ts';

type Matcher = (value: string) => boolean;

interface CompiledRule {
  name: string;
  action: PolicyAction;
  tool: Matcher;
  args: ((args: unknown) => boolean)[];
  described: string;
}

/** A policy with its globs and regexes compiled once (policies are data: kept per object). */
interface CompiledPolicy {
  rules: CompiledRule[];
  read: Matcher | null;
  write: Matcher | null;
  readRoot: boolean;
  writeRoot: boolean;
  hosts: Matcher | null;
  secrets: Matcher | null;
  subAgents: { agent: Matcher; grant: SubAgentGrant }[];
}

const compiled = new WeakMap<Policy, CompiledPolicy>();
const severity: Record<PolicyAction, number> = { allow: 0, ask: 1, deny: 2 };

/**
 * Decides a request by every layer (DESIGN §7): each layer's answer is its most restrictive
 * matching rule (deny over ask over allow) or, when nothing it says matches, deny. The most
 * restrictive answer of all layers is the decision; between equals, the first layer's. With no
 * layer at all there is no policy, and everything is allowed. Pure and synchronous: it runs
 * before every tool call.
 */
export function evaluatePolicy(
  layers: readonly PolicyLayer[],
  request: PolicyRequest,
): PolicyDecision {
  let decided: PolicyDecision | null = null;
  for (const layer of layers) {
    const answer = decideOne(compile(layer.policy), request);
    if (decided === null || severity[answer.decision] > severity[decided.decision])
      decided = { ...answer, layer: layer.name };
    if (decided.decision === 'deny') break;
  }
  return decided ?? { decision: 'allow', layer: 'none', rule: 'none', reason: 'no policy is set' };
}

/**
 * The layers a child session of sub-agent `agent` runs under: every layer of its parent, the
 * grant the parent's policies give that sub-agent, and what the parent asked for the child (if
 * anything). The child can only get less. Null when some layer of the parent does not let it
 * start that sub-agent (`evaluatePolicy(..., { kind: 'subAgent' })` says why).
 */
export function childPolicyLayers(
  parent: readonly PolicyLayer[],
  agent: string,
  requested?: Policy,
): PolicyLayer[] | null {
  const layers: PolicyLayer[] = [...parent];
  for (const layer of parent) {
    const grant = compile(layer.policy).subAgents.find((g) => g.agent(agent));
    if (grant === undefined) return null;
    if (grant.grant.policy !== undefined)
      layers.push({ name: `${layer.name}'s grant to ${agent}`, policy: grant.grant.policy });
  }
  if (requested !== undefined) layers.push({ name: 'requested for the child', policy: requested });
  return layers;
}

function decideOne(policy: CompiledPolicy, request: PolicyRequest): Omit<PolicyDecision, 'layer'> {
  switch (request.kind) {
    case 'tool': {
      const tool = decideTool(policy, request.tool, request.args);
      if (tool.decision === 'deny') return tool;
      for (const path of request.writes ?? []) {
        const d = decidePath(policy, 'write', path);
        if (d.decision === 'deny') return d;
      }
      for (const path of request.reads ?? []) {
        const d = decidePath(policy, 'read', path);
        if (d.decision === 'deny') return d;
      }
      for (const host of request.hosts ?? []) {
        const d = decideHost(policy, host);
        if (d.decision === 'deny') return d;
      }
      for (const agent of request.subAgents ?? []) {
        const d = decideOne(policy, { kind: 'subAgent', agent });
        if (d.decision === 'deny') return d;
      }
      return tool;
    }
    case 'path':
      return decidePath(policy, request.access, request.path);
    case 'host':
      return decideHost(policy, request.host);
    case 'secret':
      return policy.secrets?.(request.name) === true
        ? { decision: 'allow', rule: 'secrets', reason: `secret ${request.name} is in scope` }
        : deny('secrets', `secret ${request.name} is not in the policy's secret scopes`);
    case 'subAgent':
      return policy.subAgents.some((g) => g.agent(request.agent))
        ? { decision: 'allow', rule: 'subAgents', reason: `sub-agent ${request.agent} is granted` }
        : deny('subAgents', `the policy grants no sub-agent named ${request.agent}`);
  }
}

function decideTool(policy: CompiledPolicy, tool: string, args: unknown) {
  let best: CompiledRule | null = null;
  for (const rule of policy.rules) {
    if (best !== null && severity[rule.action] <= severity[best.action]) continue;
    if (!rule.tool(tool) || !rule.args.every((test) => test(args))) continue;
    best = rule;
    if (rule.action === 'deny') break;
  }
  if (best === null) return deny('default', `no rule of the policy allows tool ${tool}`);
  return { decision: best.action, rule: best.name, reason: best.described };
}

function decidePath(policy: CompiledPolicy, access: 'read' | 'write', given: string) {
  const rule = `paths.${access}`;
  const path = workspacePath(given);
  if (path === null)
    return deny(rule, `${JSON.stringify(given)} is not a path inside the workspace`);
  const fits = (globs: Matcher | null, root: boolean) =>
    globs !== null && (path === '.' ? root : globs(path));
  const allowed =
    fits(policy.write, policy.writeRoot) ||
    (access === 'read' && fits(policy.read, policy.readRoot));
  return allowed
    ? { decision: 'allow' as const, rule, reason: `${access} of ${path} is allowed` }
    : deny(rule, `${access} of ${path} is outside the policy's ${access} paths`);
}

function decideHost(policy: CompiledPolicy, given: string) {
  const host = hostName(given);
  if (host === null) return deny('hosts', `${JSON.stringify(given)} is not a host name`);
  return policy.hosts?.(host) === true
    ? { decision: 'allow' as const, rule: 'hosts', reason: `host ${host} is allowed` }
    : deny('hosts', `host ${host} is not among the policy's hosts`);
}

function deny(rule: string, reason: string) {
  return { decision: 'deny' as const, rule, reason };
}

function compile(policy: Policy): CompiledPolicy {
  const known = compiled.get(policy);
  if (known !== undefined) return known;
  const read = policy.paths?.read ?? [];
  const write = policy.paths?.write ?? [];
  const made: CompiledPolicy = {
    rules: (policy.tools ?? []).map((rule, i) => ({
      name: rule.id ?? `tools[${i}]`,
      action: rule.action,
      tool: globMatcher([rule.tool]) as Matcher,
      args: (rule.args ?? []).map(argumentTest),
      described:
        rule.reason ??
        `rule ${rule.id ?? `tools[${i}]`} ${describeRule(rule.action)} ${rule.tool}${rule.args === undefined ? '' : ' with these arguments'}`,
    })),
    read: globMatcher(read),
    write: globMatcher(write),
    readRoot: read.some(coversRoot),
    writeRoot: write.some(coversRoot),
    hosts: globMatcher((policy.hosts ?? []).map((h) => h.toLowerCase())),
    secrets: globMatcher(policy.secrets ?? []),
    subAgents: (policy.subAgents ?? []).map((grant) => ({
      agent: globMatcher([grant.agent]) as Matcher,
      grant,
    })),
  };
  compiled.set(policy, made);
  return made;
}

function describeRule(action: PolicyAction): string {
  return action === 'allow' ? 'allows' : action === 'deny' ? 'denies' : 'asks a person about';
}

/** The workspace itself (`.`, a listing of its top) is covered only by a glob of everything. */
const coversRoot = (glob: string) => glob === '**' || glob === '.' || glob === '**/*';

/** Any of the globs, except what a glob starting with `!` excludes (`['**', '!secrets/**']`). */
function globMatcher(globs: readonly string[]): Matcher | null {
  const included = globs.filter((g) => !g.startsWith('!'));
  if (included.length === 0) return null;
  const include = picomatch(included, { dot: true });
  const excluded = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  if (excluded.length === 0) return include;
  const exclude = picomatch(excluded, { dot: true });
  return (value) => include(value) && !exclude(value);
}

function argumentTest(matcher: ArgumentMatcher): (args: unknown) => boolean {
  const steps = matcher.path.split('.');
  const glob = matcher.glob === undefined ? null : picomatch(matcher.glob, { dot: true });
  const regex = matcher.regex === undefined ? null : new RegExp(matcher.regex, 'u');
  const oneOf = matcher.oneOf?.map(canonicalJson);
  return (args) => {
    let value: unknown = args;
    for (const step of steps) {
      if (typeof value !== 'object' || value === null || !Object.hasOwn(value, step)) return false;
      value = (value as Record<string, unknown>)[step];
    }
    if (glob !== null && (typeof value !== 'string' || !glob(value))) return false;
    if (regex !== null && (typeof value !== 'string' || !regex.test(value))) return false;
    if (oneOf !== undefined && !oneOf.includes(canonicalJson(value as JsonValue))) return false;
    return true;
  };
}

/** JSON with object keys sorted, so equal values compare equal whatever their key order. */
function canonicalJson(value: JsonValue | undefined): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === 'object' && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
