// Starts a session from the sessions page: an agent name and the first message.
import { describeError } from './api-client.ts';
import { h } from './dom.ts';
import type { AppContext } from './page.ts';
import { navigate } from './router.ts';

export function newSessionForm(ctx: AppContext, knownAgents: ReadonlySet<string>) {
  const agents = h('datalist', { attrs: { id: 'known-agents' } });
  const agent = h('input', {
    testid: 'new-session-agent',
    attrs: {
      id: 'new-session-agent',
      type: 'text',
      required: true,
      list: 'known-agents',
      autocomplete: 'off',
    },
  });
  const message = h('textarea', {
    testid: 'new-session-message',
    attrs: { id: 'new-session-message', rows: 3, required: true },
  });
  const error = h('p', { class: 'form-error', attrs: { role: 'alert' } });
  const submit = h(
    'button',
    { class: 'primary', testid: 'new-session-submit', attrs: { type: 'submit' } },
    'Start session',
  );
  const form = h(
    'form',
    {
      class: 'new-session',
      testid: 'new-session-form',
      attrs: { hidden: true, 'aria-label': 'New session' },
    },
    h('label', { attrs: { for: 'new-session-agent' } }, 'Agent'),
    agent,
    agents,
    h('label', { attrs: { for: 'new-session-message' } }, 'Message'),
    message,
    h('div', { class: 'form-actions' }, submit, error),
  );
  const toggle = h(
    'button',
    { testid: 'new-session-toggle', attrs: { type: 'button', 'aria-expanded': 'false' } },
    'New session',
  );
  toggle.addEventListener('click', () => {
    form.hidden = !form.hidden;
    toggle.setAttribute('aria-expanded', String(!form.hidden));
    agents.replaceChildren(
      ...[...knownAgents].sort().map((a) => h('option', { attrs: { value: a } })),
    );
    if (!form.hidden) agent.focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    error.textContent = '';
    ctx.api.createSession(agent.value.trim(), message.value).then(
      (session) => navigate(`#/sessions/${encodeURIComponent(session.id)}`),
      (e: unknown) => {
        submit.disabled = false;
        error.textContent = describeError(e);
      },
    );
  });
  return { element: form, toggle };
}
