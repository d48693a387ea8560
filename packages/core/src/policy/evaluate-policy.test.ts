import { describe, expect, it } from 'vitest';
import { LongrunError } from '../errors.ts';
import { checkPolicy } from './policy-check.ts';
import { childPolicyLayers, evaluatePolicy } from './evaluate-policy.ts';
import type { Policy, PolicyLayer } from './policy-types.ts';
import { hostName, workspacePath } from './request-paths.ts';
import { writableDirectories } from './writable-directories.ts';

const agent = (policy: Policy): PolicyLayer[] => [{ name: 'agent', policy }];
const tool = (name: string, args: unknown = {}, extra = {}) =>
  ({ kind: 'tool', tool: name, args, ...extra }) as const;

describe('policy evaluation', () => {
  const policy = checkPolicy({
    tools: [
      { tool: 'read_file', action: 'allow' },
      { tool: 'write_file', action: 'allow' },
      {
        tool: 'shell',
        action: 'allow',
        args: [{ path: 'command', regex: '^(ls|cat|git status)\\b' }],
      },
      { tool: 'shell', action: 'deny', args: [{ path: 'command', glob: '*rm -rf*' }], id: 'no-rm' },
      { tool: 'deploy', action: 'ask', args: [{ path: 'env', oneOf: ['prod'] }] },
      { tool: 'deploy', action: 'allow', args: [{ path: 'env', oneOf: ['staging', 'dev'] }] },
      { tool: 'git_*', action: 'allow' },
    ],
    paths: { read: ['**', '!secrets/**', '!**/.env'], write: ['src/**', 'docs/*.md'] },
    hosts: ['api.github.com', '*.example.com'],
    secrets: ['GITHUB_*'],
    subAgents: [
      {
        agent: 'reviewer',
        policy: { tools: [{ tool: 'read_file', action: 'allow' }], paths: { read: ['src/**'] } },
      },
    ],
  });

  it('allows what a rule allows and denies what no rule mentions', () => {
    expect(evaluatePolicy(agent(policy), tool('read_file')).decision).toBe('allow');
    expect(evaluatePolicy(agent(policy), tool('git_log')).decision).toBe('allow');
    const unlisted = evaluatePolicy(agent(policy), tool('send_email'));
    expect(unlisted).toMatchObject({ decision: 'deny', rule: 'default', layer: 'agent' });
    expect(unlisted.reason).toMatch(/no rule of the policy allows tool send_email/);
  });

  it('matches arguments: the most restrictive matching rule wins, whatever the order', () => {
    expect(evaluatePolicy(agent(policy), tool('shell', { command: 'ls -la' })).decision).toBe(
      'allow',
    );
    expect(evaluatePolicy(agent(policy), tool('shell', { command: 'curl evil' })).decision).toBe(
      'deny',
    );
    expect(evaluatePolicy(agent(policy), tool('shell', { command: 'ls; rm -rf /' }))).toMatchObject(
      {
        decision: 'deny',
        rule: 'no-rm',
      },
    );
    expect(evaluatePolicy(agent(policy), tool('deploy', { env: 'prod' })).decision).toBe('ask');
    expect(evaluatePolicy(agent(policy), tool('deploy', { env: 'staging' })).decision).toBe(
      'allow',
    );
    expect(evaluatePolicy(agent(policy), tool('deploy', { env: 'qa' })).decision).toBe('deny');
    // A value of another type, or a missing one, never matches an allow rule.
    expect(evaluatePolicy(agent(policy), tool('shell', { command: ['ls'] })).decision).toBe('deny');
    expect(evaluatePolicy(agent(policy), tool('shell', {})).decision).toBe('deny');
    // Inherited properties are not arguments.
    const inherited = Object.create({ command: 'ls' }) as object;
    expect(evaluatePolicy(agent(policy), tool('shell', inherited)).decision).toBe('deny');
  });

  it('checks the paths a call reads and writes, resolved inside the workspace', () => {
    const write = (path: string) =>
      evaluatePolicy(agent(policy), tool('write_file', {}, { writes: [path] }));
    const read = (path: string) =>
      evaluatePolicy(agent(policy), tool('read_file', {}, { reads: [path] }));
    expect(write('src/a.ts').decision).toBe('allow');
    expect(write('docs/guide.md').decision).toBe('allow');
    expect(write('docs/deep/guide.md')).toMatchObject({ decision: 'deny', rule: 'paths.write' });
    expect(write('src/../package.json').decision).toBe('deny');
    expect(write('src/../../etc/passwd').reason).toMatch(/not a path inside the workspace/);
    expect(write('/etc/passwd').decision).toBe('deny');
    expect(write('src\\..\\x').decision).toBe('deny');
    expect(read('README.md').decision).toBe('allow');
    expect(read('.').decision).toBe('allow');
    expect(read('config/.env')).toMatchObject({ decision: 'deny', rule: 'paths.read' });
    expect(read('.env').decision).toBe('deny');
    expect(read('a/./b/../.env').decision).toBe('deny');
    expect(read('secrets/key.pem').decision).toBe('deny');
  });

  it('checks hosts, secrets and sub-agents', () => {
    const host = (h: string) => evaluatePolicy(agent(policy), { kind: 'host', host: h }).decision;
    expect(host('api.github.com')).toBe('allow');
    expect(host('API.GitHub.com.:443')).toBe('allow');
    expect(host('files.example.com')).toBe('allow');
    expect(host('example.com')).toBe('deny');
    expect(host('api.github.com.evil.io')).toBe('deny');
    expect(host('api.github.com@evil.io')).toBe('deny');
    expect(evaluatePolicy(agent(policy), { kind: 'secret', name: 'GITHUB_TOKEN' }).decision).toBe(
      'allow',
    );
    expect(evaluatePolicy(agent(policy), { kind: 'secret', name: 'AWS_KEY' }).decision).toBe(
      'deny',
    );
    expect(evaluatePolicy(agent(policy), { kind: 'subAgent', agent: 'reviewer' }).decision).toBe(
      'allow',
    );
    expect(evaluatePolicy(agent(policy), { kind: 'subAgent', agent: 'deployer' }).decision).toBe(
      'deny',
    );
    const viaTool = evaluatePolicy(agent(policy), tool('git_push', {}, { hosts: ['evil.io'] }));
    expect(viaTool).toMatchObject({ decision: 'deny', rule: 'hosts' });
  });

  it('a tenant policy bounds the agent: the most restrictive layer decides', () => {
    const tenant: Policy = {
      tools: [
        { tool: '*', action: 'allow' },
        { tool: 'deploy', action: 'ask', reason: 'the tenant reviews every deploy' },
      ],
      paths: { read: ['**'], write: ['src/**'] },
      hosts: ['api.github.com'],
    };
    const layers = [{ name: 'tenant', policy: tenant }, ...agent(policy)];
    expect(evaluatePolicy(layers, tool('deploy', { env: 'staging' }))).toMatchObject({
      decision: 'ask',
      layer: 'tenant',
      reason: 'the tenant reviews every deploy',
    });
    expect(evaluatePolicy(layers, tool('send_email'))).toMatchObject({
      decision: 'deny',
      layer: 'agent',
    });
    expect(evaluatePolicy(layers, tool('write_file', {}, { writes: ['docs/a.md'] }))).toMatchObject(
      {
        decision: 'deny',
        layer: 'tenant',
        rule: 'paths.write',
      },
    );
    expect(evaluatePolicy(layers, { kind: 'host', host: 'a.example.com' }).layer).toBe('tenant');
    expect(evaluatePolicy([], tool('anything')).decision).toBe('allow');
  });

  it('a child gets at most what its parent has, whatever it asks for', () => {
    const parent = agent(policy);
    expect(childPolicyLayers(parent, 'deployer')).toBeNull();
    const child = childPolicyLayers(parent, 'reviewer', {
      tools: [{ tool: '*', action: 'allow' }],
      paths: { read: ['**'], write: ['**'] },
      hosts: ['*'],
      secrets: ['*'],
    }) as PolicyLayer[];
    // The grant allows read_file only; the request for everything does not widen it.
    expect(evaluatePolicy(child, tool('read_file', {}, { reads: ['src/a.ts'] })).decision).toBe(
      'allow',
    );
    expect(evaluatePolicy(child, tool('write_file', {}, { writes: ['src/a.ts'] })).decision).toBe(
      'deny',
    );
    expect(evaluatePolicy(child, tool('shell', { command: 'ls' })).decision).toBe('deny');
    expect(evaluatePolicy(child, { kind: 'secret', name: 'GITHUB_TOKEN' }).decision).toBe('deny');
    expect(evaluatePolicy(child, tool('read_file', {}, { reads: ['README.md'] })).decision).toBe(
      'deny',
    );
  });

  it('never lets a path outside the workspace through, whatever the segments (seeded fuzz)', () => {
    const seed = Number(process.env.LONGRUN_FUZZ_SEED ?? Date.now() % 1_000_000);
    console.log(`[policy path fuzz] seed ${seed}`);
    let state = seed;
    const random = () => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const segments = ['..', '.', '', 'src', 'a', '.env', '..%2f', 'b..', '...'];
    const open = agent({ tools: [{ tool: '*', action: 'allow' }], paths: { write: ['**'] } });
    for (let i = 0; i < 5_000; i++) {
      const parts = Array.from(
        { length: 1 + Math.floor(random() * 7) },
        () => segments[Math.floor(random() * segments.length)] as string,
      );
      const path = (random() < 0.1 ? '/' : '') + parts.join('/');
      let depth = 0;
      let escapes = path.startsWith('/');
      for (const part of parts) {
        if (part === '..') depth--;
        else if (part !== '.' && part !== '') depth++;
        if (depth < 0) escapes = true;
      }
      const decided = evaluatePolicy(open, tool('write_file', {}, { writes: [path] })).decision;
      expect(decided, `${path} (seed ${seed})`).toBe(escapes ? 'deny' : 'allow');
    }
  });

  it('refuses malformed policies with the field that is wrong', () => {
    const refused = (value: unknown) => {
      try {
        checkPolicy(value, 'agent a policy');
      } catch (error) {
        expect(error).toBeInstanceOf(LongrunError);
        expect((error as LongrunError).code).toBe('INVALID_ARGUMENT');
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ tool: [] })).toMatch(/tool is not a field/);
    expect(refused({ tools: [{ tool: 'x', action: 'permit' }] })).toMatch(
      /tools\[0\]\.action must be one of/,
    );
    expect(refused({ tools: [{ tool: 'x', action: 'allow', args: [{ path: 'a' }] }] })).toMatch(
      /give glob, regex or oneOf/,
    );
    expect(
      refused({ tools: [{ tool: 'x', action: 'allow', args: [{ path: 'a', regex: '(' }] }] }),
    ).toMatch(/regex is not a regular expression/);
    expect(refused({ paths: { read: 'src/**' } })).toMatch(/paths\.read must be an array/);
    expect(refused({ hosts: [''] })).toMatch(/hosts\[0\] must be a non-empty string/);
    expect(refused({ subAgents: [{ agent: 'x', policy: { tool: 1 } }] })).toMatch(
      /subAgents\[0\]\.policy/,
    );
  });
});

describe('request paths and hosts', () => {
  it('resolves workspace paths', () => {
    expect(workspacePath('a//b/./c/')).toBe('a/b/c');
    expect(workspacePath('a/..')).toBe('.');
    expect(workspacePath('')).toBe('.');
    expect(workspacePath('..')).toBeNull();
    expect(workspacePath('a\0b')).toBeNull();
  });
  it('reads hosts', () => {
    expect(hostName('[::1]:8080')).toBe('::1');
    expect(hostName('Example.COM.')).toBe('example.com');
    expect(hostName('a b')).toBeNull();
    expect(hostName('x.com:99999999')).toBeNull();
  });
});

describe('writable directories for a sandbox', () => {
  const layer = (write: string[], name = 'agent') => ({ name, policy: { paths: { write } } });
  it('gives the directories every layer lets be written whole', () => {
    expect(writableDirectories([])).toBeNull();
    expect(writableDirectories([layer(['**'])])).toEqual(['.']);
    expect(writableDirectories([layer(['out/**', 'docs/*.md', 'build/**/*'])])).toEqual([
      'build',
      'out',
    ]);
    expect(writableDirectories([layer(['**'], 'tenant'), layer(['out/**'])])).toEqual(['out']);
    expect(
      writableDirectories([layer(['src/**'], 'tenant'), layer(['src/gen/**', 'docs/**'])]),
    ).toEqual(['src/gen']);
    expect(writableDirectories([layer(['out/**', 'out/sub/**'])])).toEqual(['out']);
    expect(writableDirectories([layer(['out/**', '!out/keys/**'])])).toEqual([]);
    expect(writableDirectories([layer(['../**', '/tmp/**', 'a/*/b/**'])])).toEqual([]);
    expect(writableDirectories([{ name: 'agent', policy: {} }])).toEqual([]);
  });
});
