// The session's workspace as of its latest snapshot: the file list, and one file's content.
import { describeError } from './api-client.ts';
import type { WorkspaceDiff, WorkspaceFile } from './api-types.ts';
import { h, replaceChildren } from './dom.ts';
import { formatBytes, formatMode, shortId } from './format.ts';
import type { AppContext } from './page.ts';

/** Larger files are cut in the viewer: a browser tab is not an editor for logs of gigabytes. */
const maxShownChars = 512 * 1024;

export function filesPanel(ctx: AppContext, sessionId: string) {
  const summary = h('p', { class: 'muted small', testid: 'files-summary' }, 'Loading…');
  const list = h('ul', {
    class: 'file-list',
    testid: 'file-list',
    attrs: { 'aria-label': 'Workspace files' },
  });
  const viewerTitle = h(
    'h2',
    { class: 'viewer-title', testid: 'file-viewer-title' },
    'Select a file',
  );
  const viewer = h(
    'pre',
    { class: 'file-content', testid: 'file-content', attrs: { tabindex: 0 } },
    'Choose a file on the left to see its content.',
  );
  const refresh = h('button', { attrs: { type: 'button' } }, 'Refresh');
  const changes = h(
    'button',
    { testid: 'files-changes', attrs: { type: 'button' } },
    'Last changes',
  );
  const element = h(
    'div',
    { class: 'files-panel', testid: 'files-panel' },
    h(
      'div',
      { class: 'files-side' },
      h('div', { class: 'toolbar' }, summary, refresh, changes),
      list,
    ),
    h('div', { class: 'files-viewer' }, viewerTitle, viewer),
  );

  const open = async (file: WorkspaceFile, button: HTMLButtonElement) => {
    for (const b of list.querySelectorAll('button[aria-current]'))
      b.removeAttribute('aria-current');
    button.setAttribute('aria-current', 'true');
    viewerTitle.textContent = file.path;
    viewer.textContent = 'Loading…';
    try {
      const content = await ctx.api.fileContent(sessionId, file.path);
      viewer.textContent =
        content.text === null
          ? `(binary file, ${formatBytes(content.bytes)})`
          : content.text.length > maxShownChars
            ? `${content.text.slice(0, maxShownChars)}\n… (cut: ${formatBytes(content.bytes)} in all)`
            : content.text;
    } catch (error) {
      viewer.textContent = `Could not read ${file.path}: ${describeError(error)}`;
    }
  };

  const load = async () => {
    try {
      const listing = await ctx.api.listFiles(sessionId);
      summary.textContent =
        listing.manifestHash === null
          ? 'No workspace snapshot yet.'
          : `${listing.files.length} files · snapshot after step ${listing.step ?? '?'} · ${shortId(listing.manifestHash, 10)}`;
      const files = [...listing.files].sort((a, b) => a.path.localeCompare(b.path));
      replaceChildren(list, ...files.map((file) => fileEntry(file, open)));
    } catch (error) {
      summary.textContent = `Could not list files: ${describeError(error)}`;
    }
  };
  const showChanges = async () => {
    for (const b of list.querySelectorAll('button[aria-current]'))
      b.removeAttribute('aria-current');
    viewerTitle.textContent = 'Changes in the latest snapshot';
    viewer.textContent = 'Loading…';
    try {
      viewer.textContent = describeDiff(await ctx.api.workspaceDiff(sessionId));
    } catch (error) {
      viewer.textContent = `Could not diff the workspace: ${describeError(error)}`;
    }
  };
  refresh.addEventListener('click', () => void load());
  changes.addEventListener('click', () => void showChanges());
  return { element, load: () => void load() };
}

function fileEntry(
  file: WorkspaceFile,
  open: (file: WorkspaceFile, button: HTMLButtonElement) => Promise<void>,
): HTMLElement {
  const button = h(
    'button',
    { class: 'file', testid: 'file-entry', attrs: { type: 'button', 'data-path': file.path } },
    h('span', { class: 'file-path' }, file.path),
    h('span', { class: 'file-meta' }, `${formatBytes(file.size)} · ${formatMode(file.mode)}`),
  );
  button.addEventListener('click', () => void open(file, button));
  return h('li', {}, button);
}

const marks = { added: '+', removed: '-', changed: '~' } as const;

/** The diff as text: a line per path, then its patch (or why there is none). */
function describeDiff(diff: WorkspaceDiff): string {
  const from = diff.from === null ? 'the empty workspace' : `step ${diff.from.step}`;
  const lines = [`From ${from} to step ${diff.to.step}:`];
  for (const c of diff.changes) {
    lines.push(
      '',
      `${marks[c.change]} ${c.path}  (${formatBytes(c.sizeBefore)} → ${formatBytes(c.sizeAfter)})`,
    );
    lines.push(c.patch ?? `  no text diff: ${c.noPatchReason ?? 'unknown'}`);
  }
  if (diff.changes.length === 0) lines.push('', 'No changes.');
  return lines.join('\n');
}
