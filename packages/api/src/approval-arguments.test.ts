import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { sessionId, type ModelClient, type SessionId, type SessionStore } from '@longrun/core';
import { argsHash, defineAgent, defineTool } from '@longrun/runtime';
import { runUntil, tempDir } from '@longrun/runtime/testing';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import * as schemas from './schemas.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { sqliteStore } from './test-support.ts';

/**
 * An approver must be able to read every character a grant runs. A prompt-injected model pads a
 * harmless-looking command past the log's capped view of large arguments (8,000 characters); the
 * inbox says the view is not the whole, and the single approval returns the whole, bound by
 * sha256 to the view the decision's hash covers. Over real HTTP, against a real worker.
 */
const hiddenPayload = '; echo HIDDEN-PAYLOAD-RAN > /workspace/pwned';
const paddedCommand = `ls -la${' '.repeat(40_000)}${hiddenPayload}`;

/** Asks for `command`, then answers once the call has a result. */
function modelCalling(command: string): ModelClient {
  return {
    id: 'scripted:padder',
    stream: async (request) => {
      const first = !request.messages.some((m) => m.role === 'tool');
      return {
        text: first ? 'listing files' : 'done',
        toolCalls: first ? [{ id: 'c1', name: 'run_command', args: { command } }] : [],
        finishReason: first ? 'tool-calls' : 'stop',
        usage: { inputTokens: 10, outputTokens: 10 },
        modelId: 'scripted:padder',
      };
    },
  };
}

type Inbox = { approvals: schemas.ApprovalData[]; truncated: boolean };
type Detail = schemas.ApprovalDetailData;

describe('an approval whose arguments are too large for the log, over HTTP', () => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  let served: ServedApi;
  let approver: string;
  let operator: string;
  /** The commands the tool was run with. */
  const ran: string[] = [];

  const runCommand = defineTool({
    name: 'run_command',
    description: 'runs a command (records it)',
    input: z.object({ command: z.string() }),
    effect: 'keyed',
    needsApproval: true,
    run: async ({ command }) => {
      ran.push(command);
      return 'ran';
    },
  });
  const agentCalling = (command: string) =>
    defineAgent({
      name: 'asker',
      model: modelCalling(command),
      instructions: 'List the files.',
      tools: [runCommand],
      workspaceRoot: tempDir('approval-args'),
    });

  const get = async <T>(url: string, path: string): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${url}${path}`, {
      headers: { authorization: `Bearer ${approver}` },
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  /** A session of `asker` waiting for the approval of its one `run_command` call. */
  async function waitingOn(command: string): Promise<{ id: SessionId; approval: string }> {
    const made = await fetch(`${served.url}/v1/sessions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${operator}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'asker', message: 'list files' }),
    });
    expect(made.status).toBe(201);
    const id = sessionId(((await made.json()) as { session: { id: string } }).session.id);
    await runUntil({ store, agents: [agentCalling(command)] }, id, ['waiting', 'failed']);
    const inbox = await get<Inbox>(served.url, '/v1/approvals');
    const approval = inbox.body.approvals.find((a) => a.sessionId === id)?.approvalId;
    if (approval === undefined) throw new Error(`session ${id} asks for no approval`);
    return { id, approval };
  }

  beforeAll(async () => {
    ({ store, drop } = await sqliteStore());
    api = createApi({ store, auth: 'keys' });
    served = await serveApi(api, { port: 0 });
    approver = (await generateApiKey(store.apiKeys, 'default', 'approver', 'approver')).key;
    operator = (await generateApiKey(store.apiKeys, 'default', 'operator', 'operator')).key;
  });
  afterAll(async () => {
    await served.close();
    api.close();
    await drop();
  });

  it('the inbox says the arguments are cut; the approval returns them whole, bound to the hash a grant runs', async () => {
    const { id, approval } = await waitingOn(paddedCommand);
    const wholeText = JSON.stringify({ command: paddedCommand });

    const inbox = await get<Inbox>(served.url, '/v1/approvals');
    expect(schemas.ApprovalList.safeParse(inbox.body).success).toBe(true);
    const listed = inbox.body.approvals.find((a) => a.approvalId === approval);
    expect(listed).toMatchObject({
      tool: 'run_command',
      argumentsComplete: false,
      argumentsChars: wholeText.length,
      argumentsShownChars: 8_000,
    });
    // What the inbox shows never holds the payload: that is why it must say it is not the whole.
    expect(JSON.stringify(listed?.args)).not.toContain('HIDDEN-PAYLOAD-RAN');

    const detail = await get<Detail>(served.url, `/v1/sessions/${id}/approvals/${approval}`);
    expect(detail.status).toBe(200);
    expect(schemas.ApprovalDetail.safeParse(detail.body).success).toBe(true);
    expect(detail.body.problem).toBeNull();
    expect(detail.body.arguments).toEqual({ command: paddedCommand });
    expect(JSON.stringify(detail.body.arguments)).toContain('HIDDEN-PAYLOAD-RAN');
    // The binding: the decision's hash covers the view, and the view names the whole's sha256.
    const sha = createHash('sha256').update(wholeText).digest('hex');
    expect(detail.body.argumentsSha256).toBe(sha);
    expect(detail.body.approval).toEqual(listed);
    expect(JSON.stringify(detail.body.approval.args)).toContain(`sha256 ${sha}`);
    expect(detail.body.approval.argsHash).toBe(argsHash('run_command', detail.body.approval.args));

    // Granted, the call runs with exactly the arguments the approval returned.
    const decided = await fetch(`${served.url}/v1/sessions/${id}/approvals/${approval}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(decided.status).toBe(200);
    await runUntil({ store, agents: [agentCalling(paddedCommand)] }, id, ['completed', 'failed']);
    expect(ran).toEqual([paddedCommand]);
    // Decided, it is no longer pending: 404 saying so.
    const gone = await get<{ error: { code: string; message: string } }>(
      served.url,
      `/v1/sessions/${id}/approvals/${approval}`,
    );
    expect(gone.status).toBe(404);
    expect(gone.body.error.message).toContain(`no pending approval ${approval}`);
  });

  it('small arguments are whole in the inbox, and the approval returns the same ones', async () => {
    const { id, approval } = await waitingOn('ls -la');
    const inbox = await get<Inbox>(served.url, '/v1/approvals');
    const listed = inbox.body.approvals.find((a) => a.approvalId === approval);
    const text = JSON.stringify({ command: 'ls -la' });
    expect(listed).toMatchObject({
      args: { command: 'ls -la' },
      argumentsComplete: true,
      argumentsChars: text.length,
      argumentsShownChars: text.length,
    });
    const detail = await get<Detail>(served.url, `/v1/sessions/${id}/approvals/${approval}`);
    expect(detail.body).toMatchObject({
      arguments: { command: 'ls -la' },
      argumentsSha256: createHash('sha256').update(text).digest('hex'),
      problem: null,
    });
  });

  it('past the bound, or lost from the blob store, the arguments are not given and the answer says why', async () => {
    const { id, approval } = await waitingOn(paddedCommand);
    const path = `/v1/sessions/${id}/approvals/${approval}`;
    const bounded = createApi({ store, auth: 'keys', approvalArgumentsMaxChars: 10_000 });
    const boundedServed = await serveApi(bounded, { port: 0 });
    // A store whose blob store has lost every blob (the log still names them).
    const lost = new Proxy(store, {
      get(target, prop) {
        if (prop === 'blobs') return { ...target.blobs, get: async () => null };
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    const lostApi = createApi({ store: lost, auth: 'keys' });
    const lostServed = await serveApi(lostApi, { port: 0 });
    try {
      const tooLarge = await get<Detail>(boundedServed.url, path);
      expect(tooLarge.status).toBe(200);
      expect(tooLarge.body.arguments).toBeNull();
      expect(tooLarge.body.approval.argumentsComplete).toBe(false);
      expect(tooLarge.body.problem?.code).toBe('TOO_LARGE');
      expect(tooLarge.body.problem?.message).toMatch(/more than the 10000 .* deny it/);
      const missing = await get<Detail>(lostServed.url, path);
      expect(missing.body.arguments).toBeNull();
      expect(missing.body.problem?.code).toBe('MISSING');
      expect(missing.body.problem?.message).toContain('missing from the blob store');
    } finally {
      await boundedServed.close();
      await lostServed.close();
      bounded.close();
      lostApi.close();
    }
  });
});
