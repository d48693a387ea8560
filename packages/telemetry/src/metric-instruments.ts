import type { Counter, Histogram, Meter, UpDownCounter } from '@opentelemetry/api';

/**
 * Bucket boundaries the GenAI semantic conventions give for `gen_ai.client.token.usage`
 * (tokens, powers of 4) and for `gen_ai.client.operation.duration` (seconds, doubling from 10 ms).
 */
export const tokenBuckets = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
export const durationBucketsS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** A turn or a recovery can last far longer than one call: the same doubling, on to ~6 days. */
export const longDurationBucketsS = [
  ...durationBucketsS,
  163.84,
  327.68,
  655.36,
  1310.72,
  2621.44,
  5242.88,
  10485.76,
  41943.04,
  167772.16,
  524288,
];

/** The instruments that events are recorded on (the observable gauges live in process-metrics). */
export interface EventInstruments {
  tokenUsage: Histogram;
  operationDuration: Histogram;
  toolDuration: Histogram;
  agentDuration: Histogram;
  takeovers: Counter;
  recoveryDuration: Histogram;
  appendStalls: Counter;
  appendsStalled: UpDownCounter;
  budgetSpend: Counter;
}

export function createEventInstruments(meter: Meter): EventInstruments {
  const seconds = (name: string, description: string, buckets = durationBucketsS): Histogram =>
    meter.createHistogram(name, {
      description,
      unit: 's',
      advice: { explicitBucketBoundaries: buckets },
    });
  return {
    tokenUsage: meter.createHistogram('gen_ai.client.token.usage', {
      description: 'Number of input and output tokens used, per model call',
      unit: '{token}',
      advice: { explicitBucketBoundaries: tokenBuckets },
    }),
    operationDuration: seconds('gen_ai.client.operation.duration', 'GenAI operation duration'),
    toolDuration: seconds('gen_ai.execute_tool.duration', 'Duration of a tool call'),
    agentDuration: seconds(
      'gen_ai.invoke_agent.duration',
      'Duration of an agent turn, from its start (created, messaged) to its end',
      longDurationBucketsS,
    ),
    takeovers: meter.createCounter('longrun.lease.takeovers', {
      description: 'Claims that continued a run its previous holder left mid-step',
      unit: '{takeover}',
    }),
    recoveryDuration: seconds(
      'longrun.recovery.duration',
      "Time from a takeover's claim to the first event the new holder committed",
      longDurationBucketsS,
    ),
    appendStalls: meter.createCounter('longrun.append.stalls', {
      description: 'Appends that kept failing for a transient reason and were retried',
      unit: '{stall}',
    }),
    appendsStalled: meter.createUpDownCounter('longrun.append.stalled', {
      description: 'Sessions whose append is stalled now',
      unit: '{session}',
    }),
    budgetSpend: meter.createCounter('longrun.budget.spend', {
      description: 'Model spend settled against budgets (budget.settled), in US dollars',
      unit: 'USD',
    }),
  };
}
