// The model selector: a button that opens a searchable listbox, grouped by provider, with
// arrow keys, Enter and Esc. Typing filters on the alias, the provider and the provider's id.

import { byId, h, icon } from '../dom.js';
import { formatPricePerMillion } from '../format.js';

let models = [];
let current = null;
let onPick = () => {};
let active = 0;
let visible = [];

export function initModelPicker(list, pick) {
  models = list;
  onPick = pick;
  const button = byId('model-button');
  const search = byId('model-search');
  button.addEventListener('click', () => (isOpen() ? close() : open()));
  search.addEventListener('input', () => {
    active = 0;
    renderList();
  });
  search.addEventListener('keydown', onKey);
  document.addEventListener('pointerdown', (e) => {
    if (isOpen() && !byId('model-picker').contains(e.target)) close(false);
  });
}

export function setModels(list) {
  models = list;
  if (isOpen()) renderList();
}

export function showModel(id) {
  current = id;
  const name = byId('model-name');
  name.textContent = id || 'No model';
  const known = models.some((m) => m.id === id);
  byId('model-button').classList.toggle('unknown', !!id && !known);
  byId('model-button').title = id && !known ? `${id} is not served by this gateway now` : '';
}

export const isOpen = () => !byId('model-popover').hidden;

export function open() {
  byId('model-popover').hidden = false;
  byId('model-button').setAttribute('aria-expanded', 'true');
  const search = byId('model-search');
  search.value = '';
  active = Math.max(0, models.findIndex((m) => m.id === current));
  renderList();
  search.focus();
  scrollActiveIntoView();
}

export function close(focusButton = true) {
  byId('model-popover').hidden = true;
  byId('model-button').setAttribute('aria-expanded', 'false');
  if (focusButton) byId('model-button').focus();
}

function filtered() {
  const q = byId('model-search').value.trim().toLowerCase();
  if (!q) return models;
  const words = q.split(/\s+/);
  return models.filter((m) => {
    const hay = `${m.id} ${m.provider} ${m.providerModel}`.toLowerCase();
    return words.every((w) => hay.includes(w));
  });
}

function renderList() {
  visible = filtered();
  active = Math.min(active, Math.max(0, visible.length - 1));
  const listbox = byId('model-list');
  if (!visible.length) {
    listbox.replaceChildren(h('p', { class: 'model-empty', text: models.length ? 'No model matches.' : 'The gateway serves no model: enable a provider in llms.json.' }));
    byId('model-search').removeAttribute('aria-activedescendant');
    return;
  }
  const groups = new Map();
  visible.forEach((m, i) => {
    if (!groups.has(m.provider)) groups.set(m.provider, []);
    groups.get(m.provider).push([m, i]);
  });
  listbox.replaceChildren(
    ...[...groups].map(([provider, entries]) =>
      h('div', { role: 'group', 'aria-label': provider, class: 'model-group' }, h('div', { class: 'model-group-label', 'aria-hidden': 'true', text: provider }), entries.map(([m, i]) => option(m, i))),
    ),
  );
  byId('model-search').setAttribute('aria-activedescendant', `model-opt-${active}`);
}

function option(m, i) {
  const price = formatPricePerMillion(m.pricing);
  const el = h(
    'div',
    { role: 'option', id: `model-opt-${i}`, 'aria-label': price ? `${m.id}, ${price}` : m.id, class: `model-option${i === active ? ' active' : ''}`, 'aria-selected': String(m.id === current), dataset: { model: m.id } },
    h('div', { class: 'model-option-main' }, h('span', { class: 'model-option-id', text: m.id }), m.providerModel !== m.id ? h('span', { class: 'model-option-sub', text: m.providerModel }) : null),
    price ? h('span', { class: 'model-option-price', text: price }) : null,
    m.id === current ? icon('check') : null,
  );
  el.addEventListener('pointerdown', (e) => e.preventDefault()); // keep focus in the search box
  el.addEventListener('click', () => pick(m.id));
  el.addEventListener('pointermove', () => setActive(i));
  return el;
}

function setActive(i) {
  if (i === active) return;
  byId(`model-opt-${active}`)?.classList.remove('active');
  active = i;
  byId(`model-opt-${active}`)?.classList.add('active');
  byId('model-search').setAttribute('aria-activedescendant', `model-opt-${active}`);
}

function scrollActiveIntoView() {
  byId(`model-opt-${active}`)?.scrollIntoView({ block: 'nearest' });
}

function pick(id) {
  close();
  onPick(id);
}

function onKey(e) {
  if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
    e.preventDefault();
    if (!visible.length) return;
    setActive((active + (e.key === 'ArrowDown' ? 1 : -1) + visible.length) % visible.length);
    scrollActiveIntoView();
  } else if (e.key === 'Enter') {
    e.preventDefault();
    if (visible[active]) pick(visible[active].id);
  } else if (e.key === 'Escape') {
    e.preventDefault();
    e.stopPropagation();
    close();
  } else if (e.key === 'Tab') {
    close(false);
  }
}
