import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WireProtocol } from './wire-protocols.ts';

/**
 * Recorded provider streams live in `packages/models/fixtures/<protocol>/<name>.jsonl`: one SSE
 * event payload per line, exactly the JSON that follows `data: ` on the wire. The SSE `event:`
 * name, where the protocol has one, is the payload's own `type`.
 */
export const fixturesDir = join(import.meta.dirname, '..', 'fixtures');

export interface FixtureEvent {
  /** The SSE event name (the payload's `type`), if it has one. */
  type: string | undefined;
  /** The payload exactly as recorded. */
  data: string;
}

const cache = new Map<string, FixtureEvent[]>();

/** `name` is `<protocol>/<fixture>`, e.g. `anthropic/tool-call`. */
export function loadFixture(name: string): { protocol: WireProtocol; events: FixtureEvent[] } {
  const protocol = name.split('/')[0] as WireProtocol;
  let events = cache.get(name);
  if (events === undefined) {
    const path = join(fixturesDir, `${name}.jsonl`);
    if (!existsSync(path)) throw new Error(`no wire fixture ${name} (looked for ${path})`);
    events = readFileSync(path, 'utf8')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line, i) => {
        // Parsed once here so a broken fixture fails loudly instead of looking like a fault.
        let payload: unknown;
        try {
          payload = JSON.parse(line);
        } catch (error) {
          throw new Error(`wire fixture ${name} line ${i + 1} is not JSON`, { cause: error });
        }
        const type = (payload as { type?: unknown }).type;
        return { type: typeof type === 'string' ? type : undefined, data: line.trim() };
      });
    cache.set(name, events);
  }
  return { protocol, events };
}
