// The history sidebar: chats newest first in day groups, search over titles and messages,
// inline rename, delete with Undo; on a phone it is a drawer over the chat.

import { byId, h, icon } from '../dom.js';
import { dayGroup } from '../format.js';

let handlers = {};
let query = '';

export function initSidebar(actions) {
  handlers = actions;
  byId('search').addEventListener('input', (e) => {
    query = e.target.value.trim().toLowerCase();
    handlers.refresh();
  });
  byId('sidebar-open').addEventListener('click', () => toggleSidebar(true));
  byId('sidebar-close').addEventListener('click', () => toggleSidebar(false));
  byId('backdrop').addEventListener('click', () => toggleSidebar(false));
  const collapsed = localStorage.getItem('llms.sidebar') === 'closed';
  if (collapsed && !isPhone()) document.getElementById('app').classList.add('sidebar-collapsed');
}

export const isPhone = () => window.matchMedia('(max-width: 768px)').matches;

export function toggleSidebar(open) {
  const app = byId('app');
  if (isPhone()) {
    app.classList.toggle('drawer-open', open);
    byId('backdrop').hidden = !open;
    if (open) byId('search').focus();
  } else {
    app.classList.toggle('sidebar-collapsed', !open);
    localStorage.setItem('llms.sidebar', open ? 'open' : 'closed');
  }
  byId('sidebar-open').setAttribute('aria-expanded', String(open));
}

function matches(conv) {
  if (!query) return true;
  if ((conv.title || '').toLowerCase().includes(query)) return true;
  return conv.messages.some((m) => (m.content || '').toLowerCase().includes(query));
}

export function renderSidebar(conversations, currentId) {
  const nav = byId('history');
  const shown = conversations.filter(matches);
  if (!shown.length) {
    nav.replaceChildren(h('p', { class: 'history-empty', text: query ? 'No chat matches your search.' : 'Your chats will appear here.' }));
    return;
  }
  const groups = new Map();
  for (const conv of shown) {
    const label = dayGroup(conv.updatedAt);
    if (!groups.has(label)) groups.set(label, []);
    groups.get(label).push(conv);
  }
  nav.replaceChildren(
    ...[...groups].map(([label, convs]) =>
      h('section', { class: 'history-group' }, h('h2', { class: 'history-label', text: label }), h('ul', { role: 'list' }, convs.map((c) => item(c, c.id === currentId)))),
    ),
  );
}

function item(conv, active) {
  const link = h('a', { class: 'history-link', href: `#/c/${conv.id}`, 'aria-current': active ? 'page' : null, title: conv.title }, h('span', { class: 'history-title', text: conv.title || 'New chat' }));
  link.addEventListener('click', (e) => {
    e.preventDefault();
    handlers.open(conv.id);
    if (isPhone()) toggleSidebar(false);
  });
  const rename = h('button', { type: 'button', class: 'icon-btn small', 'aria-label': `Rename “${conv.title}”`, title: 'Rename' }, icon('pencil'));
  const remove = h('button', { type: 'button', class: 'icon-btn small', 'aria-label': `Delete “${conv.title}”`, title: 'Delete' }, icon('trash'));
  const li = h('li', { class: `history-item${active ? ' active' : ''}`, dataset: { id: conv.id } }, link, h('div', { class: 'history-actions' }, rename, remove));
  rename.addEventListener('click', () => startRename(li, conv));
  remove.addEventListener('click', () => handlers.remove(conv.id));
  return li;
}

function startRename(li, conv) {
  const input = h('input', { type: 'text', class: 'rename-input', 'aria-label': 'Chat title', maxlength: 200 });
  input.value = conv.title;
  li.replaceChildren(input);
  input.focus();
  input.select();
  let finished = false;
  const finish = (save) => {
    if (finished) return;
    finished = true;
    const title = input.value.trim();
    if (save && title && title !== conv.title) handlers.rename(conv.id, title);
    else handlers.refresh();
  };
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') finish(true);
    else if (e.key === 'Escape') {
      e.stopPropagation();
      finish(false);
    }
  });
  input.addEventListener('blur', () => finish(true));
}
