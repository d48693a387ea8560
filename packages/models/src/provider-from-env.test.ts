import { isLongrunError } from '@longrun/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chooseModel, modelFromEnv } from './index.ts';
import {
  exampleOpening,
  exampleTexts,
  exampleTools,
  startWireServer,
  type WireServer,
} from './testing.ts';

function invalid(env: NodeJS.ProcessEnv): string {
  try {
    chooseModel(env);
  } catch (error) {
    if (isLongrunError(error, 'INVALID_ARGUMENT')) return error.message;
    throw error;
  }
  throw new Error(`expected INVALID_ARGUMENT for ${JSON.stringify(env)}`);
}

describe('chooseModel', () => {
  it('is null when nothing is configured, or LONGRUN_MODEL=scripted asks for the offline model', () => {
    expect(chooseModel({})).toBeNull();
    expect(chooseModel({ OPENAI_API_KEY: '  ', LONGRUN_MODEL: '' })).toBeNull();
    expect(chooseModel({ LONGRUN_MODEL: 'scripted', OPENAI_API_KEY: 'sk-x' })).toBeNull();
  });

  it('picks a default model from the key that is set, OpenAI first', () => {
    expect(chooseModel({ OPENAI_API_KEY: 'sk-x' })).toEqual({
      provider: 'openai',
      model: 'gpt-5-mini',
    });
    expect(chooseModel({ ANTHROPIC_API_KEY: 'sk-ant-x' })).toEqual({
      provider: 'anthropic',
      model: 'claude-sonnet-4-5',
    });
    expect(chooseModel({ OPENAI_API_KEY: 'sk-x', ANTHROPIC_API_KEY: 'sk-ant-x' })?.provider).toBe(
      'openai',
    );
  });

  it('follows LONGRUN_MODEL', () => {
    const keys = { OPENAI_API_KEY: 'sk-x', ANTHROPIC_API_KEY: 'sk-ant-x' };
    expect(chooseModel({ ...keys, LONGRUN_MODEL: 'anthropic:claude-opus-4-1' })).toEqual({
      provider: 'anthropic',
      model: 'claude-opus-4-1',
    });
    expect(chooseModel({ ...keys, LONGRUN_MODEL: 'openai-chat:gpt-4.1' })).toEqual({
      provider: 'openai-chat',
      model: 'gpt-4.1',
    });
    expect(
      chooseModel({
        LONGRUN_MODEL: 'openai-compatible:qwen2.5-coder:7b',
        OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
      }),
    ).toEqual({ provider: 'openai-compatible', model: 'qwen2.5-coder:7b' });
  });

  it.each([
    'gpt-5-mini',
    'openai:',
    'OpenAI:gpt-5',
    'google:gemini-2.5',
    'openai: gpt-5',
    ':gpt-5',
  ])('a malformed LONGRUN_MODEL=%j is INVALID_ARGUMENT saying the expected form', (value) => {
    const message = invalid({ LONGRUN_MODEL: value, OPENAI_API_KEY: 'sk-x' });
    expect(message).toContain('expected <provider>:<model>');
    expect(message).toContain('openai-compatible');
  });

  it('a named provider without its key or URL is INVALID_ARGUMENT naming the variable', () => {
    expect(
      invalid({ LONGRUN_MODEL: 'anthropic:claude-sonnet-4-5', OPENAI_API_KEY: 'sk-x' }),
    ).toContain('ANTHROPIC_API_KEY');
    expect(invalid({ LONGRUN_MODEL: 'openai-compatible:llama3.1' })).toContain('OPENAI_BASE_URL');
    expect(invalid({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1' })).toContain('LONGRUN_MODEL');
  });
});

describe('modelFromEnv over real HTTP', () => {
  let server: WireServer;
  beforeAll(async () => {
    server = await startWireServer();
  });
  afterAll(async () => {
    await server.close();
  });

  const cases = [
    {
      env: { LONGRUN_MODEL: 'openai:gpt-5-mini', OPENAI_API_KEY: 'sk-env-openai' },
      path: '/v1/responses',
      fixture: 'openai-responses/text',
      auth: ['authorization', 'Bearer sk-env-openai'],
    },
    {
      env: { LONGRUN_MODEL: 'openai-chat:gpt-5-mini', OPENAI_API_KEY: 'sk-env-openai' },
      path: '/v1/chat/completions',
      fixture: 'openai-chat/text',
      auth: ['authorization', 'Bearer sk-env-openai'],
    },
    {
      env: { LONGRUN_MODEL: 'anthropic:claude-sonnet-4-5', ANTHROPIC_API_KEY: 'sk-ant-env' },
      path: '/v1/messages',
      fixture: 'anthropic/text',
      auth: ['x-api-key', 'sk-ant-env'],
    },
    {
      env: { LONGRUN_MODEL: 'openai-compatible:llama3.1' },
      path: '/v1/chat/completions',
      fixture: 'openai-chat/text',
      auth: ['authorization', undefined],
    },
  ] as const;

  it.each(cases)('$env.LONGRUN_MODEL speaks $path with the key from the given env', async (c) => {
    const env = { ...c.env, OPENAI_BASE_URL: server.baseURL, ANTHROPIC_BASE_URL: server.baseURL };
    const client = modelFromEnv(env);
    expect(client?.id).toBe(c.env.LONGRUN_MODEL);
    server.reply({ fixture: c.fixture });
    const response = await client!.stream(
      { messages: exampleOpening, tools: exampleTools },
      () => {},
    );
    expect(response.text).toBe(exampleTexts.fix);
    const sent = server.requests.at(-1)!;
    expect(sent.path).toBe(c.path);
    expect(sent.headers[c.auth[0]]).toBe(c.auth[1]);
    expect((sent.body as { model: string }).model).toBe(c.env.LONGRUN_MODEL.split(':')[1]);
    expect(server.violations).toEqual([]);
  });

  it('returns null when the env configures no model', () => {
    expect(modelFromEnv({})).toBeNull();
  });
});
