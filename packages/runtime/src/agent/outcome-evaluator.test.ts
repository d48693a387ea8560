import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  isLongrunError,
  type ModelClient,
  type ModelRequest,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { Worker } from '../worker.ts';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { loadState } from '../load-state.ts';
import { defineAgent, defineTool } from './define-agent.ts';
import { writeFileTool } from '../tools/file-tools.ts';
import { readVerdicts } from './outcome-evaluator.ts';
import type { OutcomeConfig } from './outcome.ts';

const rubric = ['answer.txt says 42', 'the answer is explained'];

/** A `submit_verdict` call with one verdict per criterion. */
const verdict = (...passed: [boolean, string][]): ScriptedTurn => ({
  toolCalls: [
    {
      name: 'submit_verdict',
      args: {
        verdicts: passed.map(([p, reason], i) => ({ criterion: i + 1, passed: p, reason })),
      },
    },
  ],
});

async function setup(
  agentTurns: ScriptedTurn[] | ((r: ModelRequest, call: number) => ScriptedTurn),
  evaluatorTurns: ScriptedTurn[],
  outcome: Partial<OutcomeConfig> = {},
  agentModel?: ModelClient,
) {
  const dir = tempDir('outcome');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const model = scriptedModel(agentTurns);
  const evaluator = scriptedModel(evaluatorTurns, { id: 'evaluator-model' });
  const agent = defineAgent({
    name: 'answerer',
    model: agentModel ?? model,
    instructions: 'You write the answer to answer.txt.',
    tools: [writeFileTool],
    workspaceRoot: join(dir, 'ws'),
    outcome: { rubric, ...outcome, evaluator: { model: evaluator, ...outcome.evaluator } },
  });
  const s = await store.createSession({ agent: 'answerer', input: { task: 'find the answer' } });
  const run = () => runUntil({ store, agents: [agent] }, s.id);
  const workspace = join(dir, 'ws', s.id);
  return { store, model, evaluator, agent, id: s.id, run, workspace };
}

const ofType = <T extends StoredEvent['type']>(events: StoredEvent[], type: T) =>
  events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);

describe('a fresh-context evaluator', () => {
  it('fails the work, gives the agent its feedback, and passes the fixed work: satisfied', async () => {
    const { store, model, evaluator, id, run, workspace } = await setup(
      [
        { toolCalls: [{ name: 'write_file', args: { path: 'answer.txt', content: '41' } }] },
        { text: 'Done: the answer is 41.' },
        { toolCalls: [{ name: 'write_file', args: { path: 'answer.txt', content: '42' } }] },
        { text: 'Fixed: the answer is 42, because 6 × 7.' },
      ],
      [
        { toolCalls: [{ name: 'read_file', args: { path: 'answer.txt' } }] },
        verdict([false, 'answer.txt says 41'], [true, 'it says why']),
        verdict([true, 'it says 42'], [true, '6 × 7']),
      ],
    );
    await run();
    const events = await allEvents(store, id);
    const evaluated = ofType(events, 'outcome.evaluated');
    expect(evaluated.map((e) => [e.data.iteration, e.data.passed, e.data.continues])).toEqual([
      [1, false, true],
      [2, true, false],
    ]);
    expect(evaluated[0]!.data.criteria[0]).toEqual({
      criterion: rubric[0],
      passed: false,
      reason: 'answer.txt says 41',
    });
    expect(evaluated[0]!.data.evaluatorSteps).toBe(2);
    expect(evaluated[0]!.data.modelId).toBe('evaluator-model');
    const completed = ofType(events, 'session.completed');
    expect(completed).toHaveLength(1);
    expect(completed[0]!.data).toEqual({
      output: 'Fixed: the answer is 42, because 6 × 7.',
      outcome: 'satisfied',
    });
    // The verdict and the completion are one commit: no state has one without the other.
    expect(completed[0]!.seq).toBe(evaluated[1]!.seq + 1);
    expect(readFileSync(join(workspace, 'answer.txt'), 'utf8')).toBe('42');

    // The agent read the feedback as the next message of its own transcript.
    const third = model.requests[2]!.messages;
    const feedback = third.at(-1);
    expect(feedback?.role).toBe('user');
    expect(feedback?.role === 'user' && feedback.content).toMatch(
      /did not pass \(evaluation 1 of 3\)[\s\S]*\[FAIL\] answer\.txt says 42: answer\.txt says 41/,
    );
    // The evaluator's context is fresh: the task, the answer and the rubric, not the transcript.
    const first = evaluator.requests[0]!.messages;
    expect(first.map((m) => m.role)).toEqual(['system', 'user']);
    const briefing = first[1]!.role === 'user' ? first[1]!.content : '';
    expect(briefing).toContain('find the answer');
    expect(briefing).toContain('Done: the answer is 41.');
    expect(briefing).toContain('1. answer.txt says 42');
    expect(JSON.stringify(first)).not.toContain('write_file');
    // It read the workspace through its tool, seeing what the agent had written.
    const toolMessage = evaluator.requests[1]!.messages.at(-1);
    expect(toolMessage?.role === 'tool' && toolMessage.results[0]?.output).toBe('41');

    const { state } = await loadState(store, id);
    expect(state.outcome).toEqual({ evaluations: 2, status: 'satisfied' });
    // The evaluator's tokens are charged to the session.
    const agentTokens = ofType(events, 'model.responded').reduce(
      (n, e) => n + e.data.usage.inputTokens,
      0,
    );
    const evaluatorTokens = evaluated.reduce((n, e) => n + e.data.usage.inputTokens, 0);
    expect(evaluatorTokens).toBeGreaterThan(0);
    expect(state.usage.inputTokens).toBe(agentTokens + evaluatorTokens);
  });

  it('defaults to FAIL: an evaluator that gives no verdict fails every criterion', async () => {
    const { store, id, run } = await setup(
      [{ text: 'Done.' }],
      [{ text: 'Looks good to me.' }, { text: 'Really, it is fine.' }],
      { maxIterations: 1 },
    );
    await run();
    const events = await allEvents(store, id);
    const [evaluated] = ofType(events, 'outcome.evaluated');
    expect(evaluated?.data.passed).toBe(false);
    expect(evaluated?.data.continues).toBe(false);
    expect(evaluated?.data.criteria.every((c) => !c.passed)).toBe(true);
    expect(evaluated?.data.criteria[0]?.reason).toMatch(/no verdict/);
    expect(ofType(events, 'session.completed')[0]?.data.outcome).toBe('max_iterations_reached');
    expect((await loadState(store, id)).state.outcome).toEqual({
      evaluations: 1,
      status: 'max_iterations_reached',
    });
  });

  it('stops after maxIterations failed evaluations', async () => {
    const { store, model, id, run } = await setup(
      () => ({ text: 'Done.' }),
      [verdict([false, 'no'], [false, 'no']), verdict([false, 'still no'], [true, 'ok'])],
      { maxIterations: 2 },
    );
    await run();
    const events = await allEvents(store, id);
    expect(ofType(events, 'outcome.evaluated').map((e) => e.data.continues)).toEqual([true, false]);
    expect(ofType(events, 'session.completed')[0]?.data.outcome).toBe('max_iterations_reached');
    expect(model.requests).toHaveLength(2);
  });

  it('ends the outcome as failed when the evaluator model refuses', async () => {
    const { store, id, run } = await setup(
      [{ text: 'Done.' }],
      [{ fail: { code: 'MODEL_REJECTED', message: 'bad key' } }],
    );
    await run();
    const events = await allEvents(store, id);
    const [evaluated] = ofType(events, 'outcome.evaluated');
    expect(evaluated?.data.error).toMatch(/bad key/);
    expect(ofType(events, 'session.completed')[0]?.data.outcome).toBe('failed');
  });

  it('never writes the workspace: file writes are refused, commands run on a throwaway copy', async () => {
    let refused = '';
    const tryWrite = defineTool({
      name: 'try_write',
      description: 'tries to write a file',
      input: z.object({}),
      effect: 'pure',
      run: async (_input, context) => {
        try {
          await context.files.writeFile('answer.txt', 'evaluator was here');
        } catch (error) {
          refused = isLongrunError(error) ? error.code : String(error);
        }
        return 'tried';
      },
    });
    const { store, evaluator, id, run, workspace } = await setup(
      [
        { toolCalls: [{ name: 'write_file', args: { path: 'answer.txt', content: '42' } }] },
        { text: 'Done: 42.' },
      ],
      [
        { toolCalls: [{ name: 'try_write', args: {} }] },
        {
          toolCalls: [
            {
              name: 'run_command',
              args: { command: 'cat answer.txt; echo overwritten > answer.txt; touch made.txt' },
            },
          ],
        },
        verdict([true, 'it says 42'], [true, 'fine']),
      ],
      { evaluator: { tools: [tryWrite], commands: true } },
    );
    // Commands run in the default sandbox (bubblewrap), on the copy.
    await run();
    const events = await allEvents(store, id);
    const runs = events.filter((e) => e.type === 'session.completed');
    expect(runs).toHaveLength(1);
    expect(refused).toBe('INVALID_ARGUMENT');
    // The command saw the agent's files (in the copy) and could write there.
    const commandResult = evaluator.requests[2]!.messages.at(-1);
    expect(commandResult?.role === 'tool' && commandResult.results[0]?.output).toMatch(
      /^exit code 0\n42/,
    );
    expect(readFileSync(join(workspace, 'answer.txt'), 'utf8')).toBe('42');
    expect(existsSync(join(workspace, 'made.txt'))).toBe(false);
    expect(existsSync(`${workspace}.evaluator`)).toBe(false);
  });

  it('after a stop between a verdict and the next model call, resumes without evaluating again', async () => {
    let release: (() => void) | null = null;
    let calls = 0;
    // The agent's third call (after the feedback) hangs until the worker stops.
    const agentModel: ModelClient = {
      id: 'agent-model',
      stream: async (request, onDelta) => {
        calls += 1;
        if (calls === 1) return scriptedAnswer('Done: 41.', request, onDelta);
        if (calls === 2) {
          await new Promise<void>((resolve) => {
            release = resolve;
            request.signal?.addEventListener('abort', () => resolve(), { once: true });
          });
          throw new Error('stopped');
        }
        return scriptedAnswer('Fixed: 42.', request, onDelta);
      },
    };
    const { store, evaluator, id, agent } = await setup(
      [],
      [verdict([false, 'says 41'], [true, 'ok']), verdict([true, '42'], [true, 'ok'])],
      {},
      agentModel,
    );
    const first = new Worker({ store, agents: [agent], pollMs: 5 });
    await first.start();
    await until(() => release !== null);
    await first.stop();
    expect(evaluator.requests).toHaveLength(1);
    await runUntil({ store, agents: [agent] }, id);
    // The first verdict was not asked for again: one more evaluator call, for the fixed answer.
    expect(evaluator.requests).toHaveLength(2);
    const events = await allEvents(store, id);
    expect(ofType(events, 'outcome.evaluated').map((e) => e.data.iteration)).toEqual([1, 2]);
    expect(ofType(events, 'session.completed')[0]?.data.outcome).toBe('satisfied');
  });

  it('refuses an outcome that cannot work, when the agent is defined', () => {
    const base = { name: 'a', model: scriptedModel([]), instructions: 'x' };
    expect(() => defineAgent({ ...base, outcome: { rubric: [] } })).toThrow(/needs a rubric/);
    expect(() => defineAgent({ ...base, outcome: { rubric: ['ok'], maxIterations: 0 } })).toThrow(
      /maxIterations/,
    );
    expect(() =>
      defineAgent({
        ...base,
        outcome: { rubric: ['ok'], evaluator: { tools: [writeFileTool] } },
      }),
    ).toThrow(/must be pure/);
    expect(() =>
      defineAgent({
        ...base,
        outcome: { rubric: ['ok'], evaluator: { model: { not: 'a model' } as never } },
      }),
    ).toThrow(/evaluator model/);
  });

  it('reads verdicts strictly: a criterion without a valid verdict fails', () => {
    expect(
      readVerdicts(['a', 'b', 'c'], {
        verdicts: [
          { criterion: 1, passed: true, reason: 'fine' },
          { criterion: 2, passed: 'yes', reason: 'not a boolean' },
          { criterion: 1, passed: false, reason: 'a second verdict on 1 is ignored' },
          { criterion: 9, passed: true, reason: 'no such criterion' },
        ],
      }),
    ).toEqual([
      { criterion: 'a', passed: true, reason: 'fine' },
      { criterion: 'b', passed: false, reason: expect.stringMatching(/no verdict/) as string },
      { criterion: 'c', passed: false, reason: expect.stringMatching(/no verdict/) as string },
    ]);
  });
});

async function scriptedAnswer(
  text: string,
  _request: ModelRequest,
  onDelta: (t: string) => void,
): Promise<Awaited<ReturnType<ModelClient['stream']>>> {
  onDelta(text);
  return {
    text,
    toolCalls: [],
    finishReason: 'stop',
    usage: { inputTokens: 10, outputTokens: 5 },
    modelId: 'agent-model',
  };
}

async function until(test: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
