// An approval's arguments as a person must read them before deciding: every hidden character made
// visible, a loud warning when what is shown is not the whole (a call's arguments too large for
// the log are kept there only as a capped view, and padding can push a payload past it), and the
// whole on demand. A grant runs every character, so Approve waits until all of them were shown.
import { describeError } from './api-client.ts';
import type { ApprovalDetail, JsonValue } from './api-types.ts';
import type { ArgumentsExtent } from './arguments-extent.ts';
import { h, replaceChildren } from './dom.ts';
import { prettyJson } from './format.ts';
import { visibleText } from './visible-text.ts';

export interface ShownArguments {
  element: HTMLElement;
  /**
   * For a capped view, settles once the person loaded and was shown the rest; never when the rest
   * cannot be read — then nobody approves them here. Null when the arguments shown are whole.
   */
  wholeShown: Promise<void> | null;
}

const count = (n: number) => n.toLocaleString('en-US');

export function shownArguments(
  args: JsonValue,
  extent: ArgumentsExtent,
  loadWhole: () => Promise<ApprovalDetail>,
): ShownArguments {
  const pre = h('pre', { class: 'approval-args', testid: 'approval-args' }, ...marked(args));
  if (extent.complete) return { element: pre, wholeShown: null };
  let release = (): void => undefined;
  const wholeShown = new Promise<void>((resolve) => (release = resolve));
  const status = h('span', { class: 'small', attrs: { role: 'status' } });
  const load = h(
    'button',
    { class: 'load-args', testid: 'load-full-args', attrs: { type: 'button' } },
    'Show all the arguments',
  );
  const warning = h(
    'div',
    { class: 'args-warning', testid: 'args-truncated', attrs: { role: 'alert' } },
    h('strong', {}, `⚠ ${count(extent.chars - extent.shownChars)} more characters not shown.`),
    ` These arguments are ${count(extent.chars)} characters; only the first ${count(extent.shownChars)} are below, and approving runs all of them. Read them whole before approving. `,
    load,
    ' ',
    status,
  );
  load.addEventListener('click', () => {
    load.disabled = true;
    status.textContent = 'Loading…';
    loadWhole().then(
      (detail) => {
        const problem = wholeProblem(detail, args);
        if (problem !== null) {
          status.textContent = problem;
          return;
        }
        replaceChildren(pre, ...marked(detail.arguments));
        pre.classList.add('whole');
        pre.dataset.whole = 'true';
        warning.classList.add('args-whole');
        warning.dataset.testid = 'args-whole';
        replaceChildren(
          warning,
          h('strong', {}, `All ${count(extent.chars)} characters of the arguments are shown below`),
          ` (sha256 ${detail.argumentsSha256}, which the approval is bound to). Runs of spaces, tabs and invisible characters are written out as ⟨…⟩.`,
        );
        release();
      },
      (error: unknown) => {
        load.disabled = false;
        status.textContent = `Could not load them: ${describeError(error)}`;
      },
    );
  });
  return { element: h('div', { class: 'approval-args-block' }, warning, pre), wholeShown };
}

/**
 * The arguments' pretty JSON with hidden characters written out, each marker in a span that
 * stands out from the text around it. visibleText marks any bracket the text itself holds, so
 * every ⟨…⟩ left is a marker.
 */
function marked(value: JsonValue): (string | HTMLElement)[] {
  return visibleText(prettyJson(value))
    .split(/(⟨[^⟨⟩]*⟩)/)
    .filter((part) => part !== '')
    .map((part) => (part.startsWith('⟨') ? h('span', { class: 'hidden-mark' }, part) : part));
}

/** Why the loaded arguments cannot stand for what the approval is bound to, or null. */
function wholeProblem(detail: ApprovalDetail, view: JsonValue): string | null {
  if (detail.arguments === null) {
    return `They cannot be shown here, so they cannot be approved here: ${detail.problem?.message ?? 'the server gave no reason'}`;
  }
  // The capped view, which the decision's hash covers, names the whole arguments' sha256.
  if (!JSON.stringify(view).includes(detail.argumentsSha256)) {
    return 'The server returned arguments other than those this approval is bound to; deny it.';
  }
  return null;
}
