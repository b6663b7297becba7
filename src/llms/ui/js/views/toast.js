// Short notices at the bottom of the screen, optionally with one action (e.g. Undo).

import { byId, h } from '../dom.js';

export function toast(message, { action = null, timeout = 4000 } = {}) {
  const el = h('div', { class: 'toast' }, h('span', { text: message }));
  let timer = 0;
  const dismiss = () => {
    clearTimeout(timer);
    el.classList.add('leaving');
    setTimeout(() => el.remove(), 200);
  };
  if (action) {
    const b = h('button', { type: 'button', class: 'toast-action', text: action.label });
    b.addEventListener('click', () => {
      action.run();
      dismiss();
    });
    el.append(b);
  }
  byId('toasts').append(el);
  timer = setTimeout(dismiss, timeout);
  return dismiss;
}

/** Says `message` to screen readers without showing it. */
export function announce(message) {
  const el = byId('announcer');
  el.textContent = '';
  setTimeout(() => (el.textContent = message), 50);
}
