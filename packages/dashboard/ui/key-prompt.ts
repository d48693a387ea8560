// The API key, when the server requires one: kept in localStorage, asked for in a modal dialog
// at start-up and again after any 401.
import { h } from './dom.ts';

const storageKey = 'longrun.apiKey';

export function loadKey(): string | null {
  try {
    return localStorage.getItem(storageKey);
  } catch {
    return null; // storage disabled: the prompt asks every time
  }
}

function saveKey(key: string): void {
  try {
    localStorage.setItem(storageKey, key);
  } catch {
    // Storage disabled: the key lives only as long as this page.
  }
}

export function forgetKey(): void {
  try {
    localStorage.removeItem(storageKey);
  } catch {
    // Nothing stored.
  }
}

let open: Promise<string> | null = null;

/**
 * Asks for a key and stores it; concurrent callers (several requests failing with 401 at once)
 * share one dialog.
 */
export function promptForKey(reason: string): Promise<string> {
  open ??= showPrompt(reason).finally(() => {
    open = null;
  });
  return open;
}

function showPrompt(reason: string): Promise<string> {
  return new Promise((resolve) => {
    const input = h('input', {
      testid: 'api-key-input',
      attrs: { id: 'api-key', type: 'password', autocomplete: 'off', required: true },
    });
    input.placeholder = 'lr_…';
    const error = h('p', { class: 'form-error', attrs: { role: 'alert' } });
    const form = h(
      'form',
      { attrs: { method: 'dialog' } },
      h('h2', {}, 'API key'),
      h('p', { class: 'muted' }, reason),
      h(
        'label',
        { attrs: { for: 'api-key' } },
        'Key (created with ',
        h('code', {}, 'longrun keys create'),
        ')',
      ),
      input,
      error,
      h(
        'div',
        { class: 'form-actions' },
        h(
          'button',
          { class: 'primary', testid: 'api-key-save', attrs: { type: 'submit' } },
          'Save key',
        ),
      ),
    );
    const dialog = h('dialog', { class: 'key-dialog', testid: 'api-key-dialog' }, form);
    form.addEventListener('submit', (event) => {
      const key = input.value.trim();
      if (key === '') {
        event.preventDefault();
        error.textContent = 'Enter a key.';
        return;
      }
      saveKey(key);
      dialog.close();
      dialog.remove();
      resolve(key);
    });
    // Escape would leave the dashboard without a key; the dialog stays until one is given.
    dialog.addEventListener('cancel', (event) => event.preventDefault());
    document.body.append(dialog);
    dialog.showModal();
    input.focus();
  });
}
