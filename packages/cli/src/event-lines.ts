import type { StoredEvent } from '@longrun/core';

/** One human line per event for live progress, or null for events that need no line. */
export function describeEvent(e: StoredEvent, totalSteps?: number): string | null {
  const seq = `seq ${String(e.seq).padStart(4)}`;
  switch (e.type) {
    case 'session.created':
      return `${seq}  session created`;
    case 'model.responded': {
      const calls = e.data.toolCalls.map((c) => `${c.tool} ${JSON.stringify(c.args)}`).join(', ');
      return `${seq}  step ${e.data.step}${totalSteps ? `/${totalSteps}` : ''}  model → ${calls || 'no tool calls'}`;
    }
    case 'tool.started':
      return null;
    case 'tool.completed': {
      const again =
        e.data.attempt > 1
          ? ` (attempt ${e.data.attempt}: resumed after a crash, same idempotency key)`
          : '';
      return `${seq}          ${e.data.ok ? '✓' : '✗'} ${e.data.tool}${again}`;
    }
    case 'tool.interrupted':
      return `${seq}          ? ${e.data.tool}: outcome unknown after a crash; not repeated`;
    case 'wait.started':
      return e.data.kind === 'timer'
        ? `${seq}  ⏸ waiting on a durable timer until ${new Date(e.data.untilMs).toISOString()} — holding no worker`
        : `${seq}  ⏸ waiting for signal ${e.data.signal} — holding no worker`;
    case 'wait.resolved':
      return `${seq}  ▶ wait over`;
    case 'session.completed':
      return `${seq}  session completed: ${JSON.stringify(e.data.output)}`;
    case 'session.failed':
      return `${seq}  session failed: ${e.data.code} ${e.data.message}`;
  }
}
