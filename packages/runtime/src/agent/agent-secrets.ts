import { LongrunError, evaluatePolicy, event, isSecretName, type NewEvent } from '@longrun/core';
import { loadSessionSecrets, SessionSecrets } from '../secrets/session-secrets.ts';
import type { AgentRunContext } from './agent-context.ts';

/** One set per run, loaded when its first tool call settles (a run without a call pays nothing). */
const loaded = new WeakMap<AgentRunContext, Promise<SessionSecrets>>();

/**
 * The secrets this run masks every tool output with (secrets/session-secrets.ts): loaded from the
 * worker's secret store once per run, so a worker that takes over a session masks what the one
 * before it handed out; empty, at no cost, when the worker has no secret store.
 */
export function sessionSecretsOf(ctx: AgentRunContext): Promise<SessionSecrets> {
  let secrets = loaded.get(ctx);
  if (secrets === undefined) {
    const store = ctx.secrets;
    secrets =
      store === undefined
        ? Promise.resolve(new SessionSecrets())
        : loadSessionSecrets({
            store,
            policies: ctx.policies,
            readEvents: (afterSeq, limit) =>
              ctx.store.readEvents(ctx.writer.lease.sessionId, afterSeq, limit),
          }).catch((error: unknown) => {
            // Not kept: a run that goes on after the error asks the store again. No output goes
            // unmasked meanwhile: the call that asked fails with this error before it runs.
            loaded.delete(ctx);
            throw error;
          });
    loaded.set(ctx, secrets);
  }
  return secrets;
}

/**
 * A secret as a call's code may have it (ToolContext.secret): the policy decides by its secret
 * scopes (every layer must allow; with no policy, every secret of the store may be read), the
 * decision is recorded with the call's result, and the value is read only when allowed.
 */
export async function secretFor(
  ctx: AgentRunContext,
  step: number,
  callIndex: number,
  tool: string,
  name: string,
): Promise<{ decided: NewEvent | null; value: string | null; refusal?: LongrunError }> {
  if (!isSecretName(name)) {
    const refusal = new LongrunError(
      'INVALID_ARGUMENT',
      `a secret name is 1 to 200 letters, digits, _ - . or / (got ${JSON.stringify(name).slice(0, 60)})`,
    );
    return { decided: null, value: null, refusal };
  }
  let decided: NewEvent | null = null;
  if (ctx.policies.length > 0) {
    const d = evaluatePolicy(ctx.policies, { kind: 'secret', name });
    decided = event('policy.decided', {
      point: 'tool.call',
      decision: d.decision,
      layer: d.layer,
      rule: d.rule,
      reason: d.reason,
      step,
      callIndex,
      tool,
      secret: name,
    });
    if (d.decision !== 'allow') {
      const refusal = new LongrunError(
        'PERMISSION_DENIED',
        `the policy does not give this session secret ${name} (${d.layer}, ${d.rule}): ${d.reason}`,
      );
      return { decided, value: null, refusal };
    }
  }
  return { decided, value: (await ctx.secrets?.get(name)) ?? null };
}
