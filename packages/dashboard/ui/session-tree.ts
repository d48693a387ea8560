// A sub-agent session's parent and root, and the sub-agents a session started, as links
// (`GET /v1/sessions/{id}/tree`). Hidden for a session with neither.
import { describeError } from './api-client.ts';
import { sessionStatuses, type SessionStatus, type SessionTreeView } from './api-types.ts';
import { statusBadge } from './badges.ts';
import { h, replaceChildren } from './dom.ts';
import { shortId } from './format.ts';
import type { AppContext } from './page.ts';

const link = (id: string, testid: string) =>
  h(
    'a',
    { testid, attrs: { href: `#/sessions/${encodeURIComponent(id)}`, title: id } },
    h('code', {}, shortId(id, 16)),
  );

export function sessionTree(ctx: AppContext, sessionId: string) {
  const element = h('nav', {
    class: 'session-tree small',
    testid: 'session-tree',
    attrs: { 'aria-label': 'Sub-agent tree', hidden: true },
  });
  return {
    element,
    load() {
      ctx.api.sessionTree(sessionId).then(
        (tree) => render(element, tree),
        (e: unknown) => {
          element.hidden = false;
          element.textContent = `Could not load the sub-agent tree: ${describeError(e)}`;
        },
      );
    },
  };
}

function render(el: HTMLElement, tree: SessionTreeView): void {
  const parts: Node[] = [];
  if (tree.parent !== null) {
    const { sessionId, rootSessionId, step, callIndex } = tree.parent;
    parts.push(
      h(
        'span',
        { testid: 'tree-parent' },
        'Sub-agent of ',
        link(sessionId, 'tree-parent-link'),
        ` (step ${step}, call ${callIndex})`,
        rootSessionId === sessionId ? '' : ' · root ',
        rootSessionId === sessionId ? null : link(rootSessionId, 'tree-root-link'),
      ),
    );
  }
  if (tree.children.length > 0) {
    parts.push(
      h(
        'span',
        { testid: 'tree-children' },
        `Sub-agents (${tree.children.length}): `,
        ...tree.children.flatMap((c) => [
          h(
            'span',
            {
              class: 'tree-child',
              testid: 'tree-child',
              attrs: { 'data-session-id': c.sessionId },
            },
            link(c.sessionId, 'tree-child-link'),
            ` ${c.agent} `,
            isStatus(c.status) ? statusBadge(c.status) : c.status,
          ),
          ' ',
        ]),
      ),
    );
  }
  el.hidden = parts.length === 0;
  replaceChildren(el, ...parts);
}

function isStatus(s: string): s is SessionStatus {
  return (sessionStatuses as readonly string[]).includes(s);
}
