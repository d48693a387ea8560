import {
  approvalSignalPrefix,
  cancelSession,
  changeBudget,
  decideApproval,
  resumeSession,
  sendMessage,
  signalSession,
} from '@longrun/runtime';
import type { SessionRecord } from '@longrun/core';
import { actor, json, type ApiContext } from '../api-context.ts';
import {
  ApprovalList,
  ApprovalParams,
  ApprovalsQuery,
  BudgetBody,
  CancelBody,
  DecisionBody,
  DecisionResponse,
  MessageBody,
  JsonValue,
  NamedSignalParams,
  ResumeBody,
  SessionParams,
  SessionResponse,
  SignalBody,
  type ApprovalData,
} from '../schemas.ts';
import { approvalIdOf, sessionOf } from '../tenant-scope.ts';

/** Sessions waiting on a person read per store page by the inbox. */
const scanPage = 200;

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
  approvalsRoute(ctx);
  decisionRoute(ctx);
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

function approvalsRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/approvals',
      summary: "Pending approvals across the tenant's waiting sessions, oldest request first",
      auth: true,
      query: ApprovalsQuery,
      responses: { 200: { description: 'The inbox.', schema: ApprovalList } },
    },
    async ({ query, caller }) => {
      const limit = query.limit ?? 50;
      const approvals: ApprovalData[] = [];
      let afterId: SessionRecord['id'] | undefined;
      let truncated = false;
      // Every session waiting on a person is read, up to the cap, and not only until `limit`
      // approvals are found: sessions list in creation order, the inbox is in request order.
      const waitingOnPeople = (pageSize: number) =>
        store.listSessions({
          tenantId: caller.tenantId,
          status: 'waiting',
          waitingForPrefix: approvalSignalPrefix,
          limit: pageSize,
          ...(afterId === undefined ? {} : { afterId }),
        });
      for (let scanned = 0; ;) {
        if (scanned >= ctx.approvalsScanLimit) {
          truncated = (await waitingOnPeople(1)).length > 0;
          break;
        }
        const pageSize = Math.min(scanPage, ctx.approvalsScanLimit - scanned);
        const page = await waitingOnPeople(pageSize);
        for (const record of page) {
          for (const p of await views.pendingApprovals(record))
            approvals.push({ ...p, sessionId: record.id, agent: record.agent });
        }
        scanned += page.length;
        afterId = page.at(-1)?.id;
        if (page.length < pageSize) break;
      }
      approvals.sort((a, b) => a.requestedAtMs - b.requestedAtMs);
      return json(200, {
        approvals: approvals.slice(0, limit),
        truncated: truncated || approvals.length > limit,
      });
    },
  );
}

function decisionRoute(ctx: ApiContext): void {
  const { routes, store } = ctx;

  routes.add(
    {
      method: 'post',
      path: '/v1/sessions/:id/approvals/:approvalId',
      summary: 'Approve or deny a pending approval',
      description:
        "Bound to the exact call the approval was requested for. `scope` (with approve): `call` (default) this call only; `arguments` also every later call of the tool with the same arguments in the session; `tool` every later call of the tool in the session. A session grant answers only what asks for approval, never a deny. The log records the deciding API key's id as `by`. Unknown approval: 404; already decided (or re-scoping a decided one): 409 INVALID_STATE; expired: 410 GONE; a scope on a deny, a model call or a re-run: 400.",
      auth: true,
      access: 'approve',
      params: ApprovalParams,
      body: DecisionBody,
      responses: { 200: { description: 'The decision was sent.', schema: DecisionResponse } },
    },
    async ({ params, body, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      const approvalId = approvalIdOf(params.approvalId, record.id);
      await ctx.wholeLogReads.run(() =>
        decideApproval(store, record.id, {
          approvalId,
          decision: body.decision === 'approve' ? 'granted' : 'denied',
          by: actor(caller),
          reason: body.reason ?? null,
          scope: body.scope ?? 'call',
        }),
      );
      ctx.onSignalled?.(record.id);
      return json(200, { approvalId, decision: body.decision, scope: body.scope ?? 'call' });
    },
  );
}
