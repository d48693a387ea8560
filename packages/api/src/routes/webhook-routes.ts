import { deliverWebhook } from '@longrun/runtime';
import { json, type ApiContext } from '../api-context.ts';
import { HookDelivery, HookParams, JsonValue } from '../schemas.ts';

/** Bytes of one webhook body: the route needs no key, so it takes less than the others. */
export const webhookBodyMaxBytes = 256 * 1024;

/**
 * `POST /v1/hooks/{token}`: a delivery to a webhook a tool made (`context.createWebhook`). No API
 * key: the token (256 random bits, of which the store keeps only a hash) is the authority, and it
 * names one hook of one session. Unknown token 404; expired, used (single-use) or of an ended
 * session 410 — one answer for every unknown token, so it tells a guesser nothing.
 */
export function webhookRoutes(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/hooks/:token',
      summary: "Deliver a JSON body to a tool call's webhook",
      description: `No API key: the token in the URL authorises. The body (JSON, at most ${webhookBodyMaxBytes} bytes; an empty body is null) resumes the tool call waiting on the hook. A single-use hook takes one delivery; a multi-use one any number until it expires. 404 NOT_FOUND for a token no hook has; 410 GONE for a hook that expired, was used, or whose session ended.`,
      auth: false,
      params: HookParams,
      body: JsonValue,
      bodyOptional: true,
      emptyBody: null,
      bodyMaxBytes: webhookBodyMaxBytes,
      responses: {
        202: { description: 'Delivered; a worker resumes the waiting call.', schema: HookDelivery },
      },
    },
    async ({ params, body }) => {
      const signal = await deliverWebhook(store, params.token, body);
      ctx.onSignalled?.(signal.sessionId);
      return json(202, { delivered: true, signalId: signal.id });
    },
  );
}
