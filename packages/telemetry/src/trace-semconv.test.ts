import { describe, expect, it } from 'vitest';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { genAi, providerAndModel, semconvStabilityFrom } from './trace-semconv.ts';

describe('trace-semconv', () => {
  it("names every attribute as OpenTelemetry's semantic-conventions package does", () => {
    // The package's registry of names (its GenAI constants are marked moved, not renamed).
    const registry = new Set(
      Object.entries(incubating)
        .filter(([k]) => k.startsWith('ATTR_'))
        .map(([, v]) => v as string),
    );
    const missing = Object.values(genAi).filter((name) => !registry.has(name));
    expect(missing).toEqual([]);
  });

  it('reads OTEL_SEMCONV_STABILITY_OPT_IN as a comma-separated list', () => {
    expect(semconvStabilityFrom({})).toBe('default');
    expect(semconvStabilityFrom({ OTEL_SEMCONV_STABILITY_OPT_IN: 'http' })).toBe('default');
    expect(
      semconvStabilityFrom({ OTEL_SEMCONV_STABILITY_OPT_IN: 'http, gen_ai_latest_experimental' }),
    ).toBe('latest');
  });

  it('maps model ids to gen_ai.provider.name', () => {
    expect(providerAndModel('openai:gpt-5')).toEqual({ provider: 'openai', model: 'gpt-5' });
    expect(providerAndModel('google:gemini-3')).toEqual({
      provider: 'gcp.gemini',
      model: 'gemini-3',
    });
    expect(providerAndModel('scripted:crash')).toEqual({ provider: 'scripted', model: 'crash' });
    expect(providerAndModel('bare')).toEqual({ provider: '_OTHER', model: 'bare' });
  });
});
