// The message box under the timeline.
import { describeError } from './api-client.ts';
import type { SessionView } from './api-types.ts';
import { h } from './dom.ts';
import type { AppContext } from './page.ts';

/** The message box: sends a follow-up message, which starts a new turn (or reopens the session). */
export function composer(
  ctx: AppContext,
  sessionId: string,
  onSession: (s: SessionView) => void,
): HTMLElement {
  const text = h('textarea', {
    testid: 'message-input',
    attrs: { id: 'message-input', rows: 2, placeholder: 'Send a message to the agent…' },
  });
  const send = h(
    'button',
    { class: 'primary', testid: 'message-send', attrs: { type: 'submit' } },
    'Send message',
  );
  const status = h('span', { class: 'small muted', attrs: { role: 'status' } });
  const form = h(
    'form',
    { class: 'composer', testid: 'composer' },
    h('label', { class: 'visually-hidden', attrs: { for: 'message-input' } }, 'Message'),
    text,
    h('div', { class: 'composer-actions' }, send, status),
  );
  const submit = () => {
    const message = text.value.trim();
    if (message === '') return;
    send.disabled = true;
    status.textContent = 'Sending…';
    ctx.api.sendMessage(sessionId, message).then(
      (session) => {
        text.value = '';
        status.textContent = 'Sent.';
        send.disabled = false;
        onSession(session);
      },
      (e: unknown) => {
        status.textContent = describeError(e);
        send.disabled = false;
      },
    );
  };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit();
  });
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) submit();
  });
  return form;
}
