import {
  cancelSession,
  changeBudget,
  resumeSession,
  sendMessage,
  signalSession,
} from '@longrun/runtime';
import type { SessionRecord } from '@longrun/core';
import { actor, json, type ApiContext } from '../api-context.ts';
import {
  BudgetBody,
  CancelBody,
  MessageBody,
  JsonValue,
  NamedSignalParams,
  ResumeBody,
  SessionParams,
  SessionResponse,
  SignalBody,
} from '../schemas.ts';
import { sessionOf } from '../tenant-scope.ts';

/** 202 with the session as it is now (the signal was sent; the worker has not acted yet). */
async function viewNow(ctx: ApiContext, record: SessionRecord): Promise<Response> {
  return json(202, { session: await ctx.views.view(await ctx.store.getSession(record.id)) });
}

export function actionRoutes(ctx: ApiContext): void {
  messageRoute(ctx);
  signalRoute(ctx);
  namedSignalRoute(ctx);
  cancelRoute(ctx);
  resumeRoute(ctx);
  budgetRoute(ctx);
}

function messageRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/messages',
      summary: 'Add a follow-up message (a new turn; reopens a completed session)',
      auth: true,
      access: 'operate',
      params: SessionParams,
      body: MessageBody,
      responses: {
        202: { description: 'Accepted; a worker takes it up.', schema: SessionResponse },
      },
    },
    async ({ params, body, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      await sendMessage(store, record.id, body.text);
      ctx.onSignalled?.(record.id);
      return viewNow(ctx, record);
    },
  );
}

function signalRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/signals',
      summary: 'Deliver a signal (wakes a session waiting for it)',
      description:
        "A signal of the agent's own; the runtime's names (messages, cancel, resume, approvals) are refused: use their routes.",
      auth: true,
      access: 'operate',
      params: SessionParams,
      body: SignalBody,
      responses: {
        202: { description: 'Delivered; a worker takes it up.', schema: SessionResponse },
      },
    },
    async ({ params, body, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      await signalSession(store, record.id, body.name, body.payload ?? null);
      ctx.onSignalled?.(record.id);
      return viewNow(ctx, record);
    },
  );
}

function namedSignalRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/signals/:name',
      summary: 'Deliver the named signal, its payload the JSON body',
      description:
        "Delivers signal `name` of the agent's own with the request body as its payload (an empty body is null): a tool waiting in `context.waitForSignal(name)` (or the model's `wait_for_signal`) resumes with it. A signal sent before the wait starts is kept and delivered to it; each is delivered once. The runtime's names (messages, cancel, resume, approvals, webhooks) are refused: use their routes.",
      auth: true,
      access: 'operate',
      params: NamedSignalParams,
      body: JsonValue,
      bodyOptional: true,
      emptyBody: null,
      responses: {
        202: { description: 'Delivered; a worker takes it up.', schema: SessionResponse },
      },
    },
    async ({ params, body, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      await signalSession(store, record.id, params.name, body);
      ctx.onSignalled?.(record.id);
      return viewNow(ctx, record);
    },
  );
}

function cancelRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/cancel',
      summary: 'Ask for the session to be cancelled',
      auth: true,
      access: 'operate',
      params: SessionParams,
      body: CancelBody,
      bodyOptional: true,
      responses: {
        202: {
          description: 'Accepted; the worker records it at its next step boundary.',
          schema: SessionResponse,
        },
      },
    },
    async ({ params, body, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      await cancelSession(store, record.id, { by: actor(caller), reason: body.reason ?? null });
      ctx.onSignalled?.(record.id);
      return viewNow(ctx, record);
    },
  );
}

function resumeRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/resume',
      summary: 'Resume a paused session',
      description:
        'A worker parks a session as paused (statusReason says why) for a reason a person can act on. Once it is dealt with, this makes the session claimable again; the worker that claims it records session.resumed. Not paused: 409 INVALID_STATE.',
      auth: true,
      access: 'operate',
      params: SessionParams,
      body: ResumeBody,
      bodyOptional: true,
      responses: {
        202: {
          description: 'Accepted; the session is queued for the next worker that claims it.',
          schema: SessionResponse,
        },
      },
    },
    async ({ params, body, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      await resumeSession(store, record.id, { by: actor(caller), reason: body.reason ?? null });
      ctx.onSignalled?.(record.id);
      return viewNow(ctx, record);
    },
  );
}

function budgetRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/budget',
      summary: "Change a session's budget (and resume it if it was paused for BUDGET_EXCEEDED)",
      description:
        'A number sets a limit, null removes it; limits left out stay. The worker records the change as budget.set at its next claim (or before it would pause for the budget). A session paused with BUDGET_EXCEEDED is resumed: the call that did not fit is checked again, and pauses again if the raise is not enough. A finished session: 409 INVALID_STATE.',
      auth: true,
      // Spending authority: a cap the key that runs the agent could lift would not cap it.
      access: 'admin',
      params: SessionParams,
      body: BudgetBody,
      responses: {
        202: {
          description:
            'Accepted; the session as it is now (its budget changes when a worker records it).',
          schema: SessionResponse,
        },
      },
    },
    async ({ params, body, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      await changeBudget(store, record.id, {
        by: actor(caller),
        reason: body.reason ?? null,
        change: body.budget,
      });
      ctx.onSignalled?.(record.id);
      return viewNow(ctx, record);
    },
  );
}
