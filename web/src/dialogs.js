// A modal question with a few answers, in place of confirm() (which browser tests and
// screen readers handle poorly).

import { h } from './dom.js';

const dialog = document.getElementById('ask-dialog');

/**
 * Shows `title` and `message` with one button per choice (`{value, label, danger}`) and
 * Cancel. Resolves to the chosen value, or null for Cancel / Escape.
 */
export function ask(title, message, choices) {
  dialog.replaceChildren(h('form', { method: 'dialog' },
    h('h2', {}, title),
    message && h('p', {}, message),
    h('div', { class: 'actions' },
      h('button', { value: '', 'data-testid': 'ask-cancel' }, 'Cancel'),
      choices.map((c) => h('button', {
        value: c.value, class: c.danger ? 'danger' : 'primary', 'data-testid': `ask-${c.value}`,
      }, c.label)))));
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue || null), { once: true });
  });
}

/** "This event or the whole series?" for an occurrence of a recurring event. */
export const askScope = (title, verb) => ask(`${verb} recurring event`, title, [
  { value: 'this', label: 'This event' },
  { value: 'series', label: 'The whole series' },
]);
