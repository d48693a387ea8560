import picomatch from 'picomatch';
import { LongrunError } from '../errors.ts';
import type { ArgumentMatcher, Policy, ToolRule } from './policy-types.ts';

const actions = ['allow', 'deny', 'ask'];
const policyKeys = ['tools', 'paths', 'hosts', 'secrets', 'subAgents'];
const ruleKeys = ['tool', 'action', 'args', 'id', 'reason'];
const matcherKeys = ['path', 'glob', 'regex', 'oneOf'];

/**
 * Checks that `value` is a policy (policy-types.ts) and returns it, or throws INVALID_ARGUMENT
 * naming the field that is wrong (`where` says whose policy: `agent deploy's policy`). Unknown
 * fields are refused: a misspelt `tool` must not silently widen or narrow what is allowed.
 */
export function checkPolicy(value: unknown, where = 'policy'): Policy {
  const bad = (field: string, what: string): never => {
    throw new LongrunError('INVALID_ARGUMENT', `${where}: ${field} ${what}`);
  };
  const object = (v: unknown, field: string, keys: readonly string[]): Record<string, unknown> => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'must be an object');
    for (const key of Object.keys(v as object))
      if (!keys.includes(key))
        bad(`${field}.${key}`, `is not a field (the fields: ${keys.join(', ')})`);
    return v as Record<string, unknown>;
  };
  const list = (v: unknown, field: string): unknown[] => {
    if (!Array.isArray(v)) bad(field, 'must be an array');
    return v as unknown[];
  };
  const globs = (v: unknown, field: string): void => {
    list(v, field).forEach((g, i) => glob(g, `${field}[${i}]`, bad));
  };
  const policy = object(value, where === 'policy' ? 'the policy' : 'it', policyKeys);
  if (policy.tools !== undefined)
    list(policy.tools, 'tools').forEach((r, i) => checkRule(r, `tools[${i}]`, object, list, bad));
  if (policy.paths !== undefined) {
    const paths = object(policy.paths, 'paths', ['read', 'write']);
    if (paths.read !== undefined) globs(paths.read, 'paths.read');
    if (paths.write !== undefined) globs(paths.write, 'paths.write');
  }
  if (policy.hosts !== undefined) globs(policy.hosts, 'hosts');
  if (policy.secrets !== undefined) globs(policy.secrets, 'secrets');
  if (policy.subAgents !== undefined)
    list(policy.subAgents, 'subAgents').forEach((g, i) => {
      const grant = object(g, `subAgents[${i}]`, ['agent', 'policy']);
      glob(grant.agent, `subAgents[${i}].agent`, bad);
      if (grant.policy !== undefined) checkPolicy(grant.policy, `${where}: subAgents[${i}].policy`);
    });
  return value as Policy;
}

function checkRule(
  value: unknown,
  field: string,
  object: (v: unknown, field: string, keys: readonly string[]) => Record<string, unknown>,
  list: (v: unknown, field: string) => unknown[],
  bad: (field: string, what: string) => never,
): asserts value is ToolRule {
  const rule = object(value, field, ruleKeys);
  glob(rule.tool, `${field}.tool`, bad);
  if (typeof rule.action !== 'string' || !actions.includes(rule.action))
    bad(`${field}.action`, `must be one of ${actions.join(', ')}`);
  if (rule.id !== undefined && (typeof rule.id !== 'string' || rule.id === ''))
    bad(`${field}.id`, 'must be a non-empty string');
  if (rule.reason !== undefined && typeof rule.reason !== 'string')
    bad(`${field}.reason`, 'must be a string');
  if (rule.args === undefined) return;
  list(rule.args, `${field}.args`).forEach((m, i) => {
    const at = `${field}.args[${i}]`;
    const matcher = object(m, at, matcherKeys) as Partial<ArgumentMatcher>;
    if (typeof matcher.path !== 'string' || matcher.path === '')
      bad(`${at}.path`, 'must name a value in the arguments, e.g. "command" or "files.0.path"');
    if (matcher.glob === undefined && matcher.regex === undefined && matcher.oneOf === undefined)
      bad(at, 'must test the value: give glob, regex or oneOf');
    if (matcher.glob !== undefined) glob(matcher.glob, `${at}.glob`, bad);
    if (matcher.regex !== undefined) {
      if (typeof matcher.regex !== 'string') bad(`${at}.regex`, 'must be a string');
      try {
        new RegExp(matcher.regex, 'u');
      } catch (error) {
        bad(`${at}.regex`, `is not a regular expression: ${(error as Error).message}`);
      }
    }
    if (matcher.oneOf !== undefined) list(matcher.oneOf, `${at}.oneOf`);
  });
}

function glob(value: unknown, field: string, bad: (field: string, what: string) => never): void {
  if (typeof value !== 'string' || value === '')
    bad(field, 'must be a non-empty string (a name or a glob)');
  try {
    picomatch.makeRe(value);
  } catch (error) {
    bad(field, `is not a glob: ${(error as Error).message}`);
  }
}
