import {
  approvalSignalPrefix,
  argumentsShown,
  decideApproval,
  readWholeArguments,
  type PendingApproval,
} from '@longrun/runtime';
import { LongrunError, type SessionRecord } from '@longrun/core';
import { actor, json, type ApiContext } from '../api-context.ts';
import {
  ApprovalDetail,
  ApprovalList,
  ApprovalParams,
  ApprovalsQuery,
  DecisionBody,
  DecisionResponse,
  type ApprovalData,
  type ApprovalDetailData,
} from '../schemas.ts';
import { approvalIdOf, sessionOf } from '../tenant-scope.ts';

/** Sessions waiting on a person read per store page by the inbox. */
const scanPage = 200;

export function approvalRoutes(ctx: ApiContext): void {
  approvalsRoute(ctx);
  approvalRoute(ctx);
  decisionRoute(ctx);
}

/**
 * A pending approval as the API shows it, saying how much of the arguments `args` shows: a call
 * whose arguments were too large for the log has only a capped view there, and a person must
 * know the rest exists before deciding.
 */
function approvalData(p: PendingApproval, record: SessionRecord): ApprovalData {
  const shown = argumentsShown(p);
  return {
    approvalId: p.approvalId,
    sessionId: record.id,
    agent: record.agent,
    point: p.point,
    tool: p.tool,
    args: p.args,
    argsHash: p.argsHash,
    argumentsComplete: shown.complete,
    argumentsChars: shown.chars,
    argumentsShownChars: shown.shownChars,
    step: p.step,
    callIndex: p.callIndex,
    question: p.question,
    requestedAtMs: p.requestedAtMs,
    expiresAtMs: p.expiresAtMs,
  };
}

function approvalsRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/approvals',
      summary: "Pending approvals across the tenant's waiting sessions, oldest request first",
      description:
        'Each approval says whether `args` is the whole of its arguments (`argumentsComplete`); when it is not, read them whole from GET /v1/sessions/{id}/approvals/{approvalId} before deciding.',
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
            approvals.push(approvalData(p, record));
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

function approvalRoute(ctx: ApiContext): void {
  const { routes, store, views } = ctx;

  routes.add(
    {
      method: 'get',
      path: '/v1/sessions/:id/approvals/:approvalId',
      summary: 'A pending approval with its whole arguments',
      description: `The approval as the inbox lists it, and the whole arguments its call runs with if granted: for a call whose arguments were too large for the log, read back from the blob store and checked against their sha256, which the capped view in \`approval.args\` names (so \`argsHash\` binds a decision to exactly these). Up to ${ctx.approvalArgumentsMaxChars} characters; past that, or when the blob store lost them, \`arguments\` is null and \`problem\` says why. Not pending (decided, expired, answered otherwise) or unknown: 404.`,
      auth: true,
      params: ApprovalParams,
      responses: {
        200: { description: 'The approval and its whole arguments.', schema: ApprovalDetail },
      },
    },
    async ({ params, caller }) => {
      const record = await sessionOf(store, caller, params.id);
      const approvalId = approvalIdOf(params.approvalId, record.id);
      const pending = await views.pendingApprovals(record);
      const approval = pending.find((p) => p.approvalId === approvalId);
      if (approval === undefined) {
        const list = pending.map((p) => p.approvalId).join(', ') || 'none';
        throw new LongrunError(
          'NOT_FOUND',
          `no pending approval ${approvalId} in session ${record.id} (decided, expired, answered otherwise, or never requested); pending: ${list}`,
        );
      }
      const whole = await readWholeArguments(approval, store.blobs, {
        maxChars: ctx.approvalArgumentsMaxChars,
      });
      const body: ApprovalDetailData = {
        approval: approvalData(approval, record),
        arguments: whole.arguments,
        argumentsSha256: whole.sha256,
        problem: whole.problem,
      };
      return json(200, body);
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
