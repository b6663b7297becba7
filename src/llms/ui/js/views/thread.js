// The conversation pane: one <article> per message, Markdown for replies, the details line,
// errors with Retry, inline editing of a user turn. Replies being streamed are re-rendered at
// most once per animation frame.

import { copyText, flashDone, h, icon } from '../dom.js';
import { formatCost, formatCount, formatMs } from '../format.js';
import { renderMarkdown } from '../markdown.js';

const pane = () => document.getElementById('thread');
const list = () => document.getElementById('messages');
let handlers = {};
let frame = 0;
const dirty = new Set();

export function initThread(actions) {
  handlers = actions;
  const button = document.getElementById('to-bottom');
  pane().addEventListener('scroll', () => (button.hidden = nearBottom()), { passive: true });
  button.addEventListener('click', () => {
    scrollToEnd(true);
    document.getElementById('prompt').focus();
  });
}

/** Draws the whole conversation (or the empty state when there is none). */
export function renderThread(conv) {
  const messages = conv?.messages || [];
  list().replaceChildren(...messages.map((m, i) => article(conv, m, i)));
  document.getElementById('empty').hidden = messages.length > 0;
  document.getElementById('app').classList.toggle('is-empty', messages.length === 0);
  scrollToEnd(true);
}

/** Re-renders one message soon (coalesced per frame); a no-op when it is not on screen. */
export function updateMessage(msg) {
  dirty.add(msg);
  if (!frame) frame = requestAnimationFrame(flush);
}

function flush() {
  frame = 0;
  const follow = nearBottom();
  for (const msg of dirty) {
    const el = list().querySelector(`[data-id="${CSS.escape(msg.id)}"]`);
    if (el) fillAssistant(el, msg);
  }
  dirty.clear();
  if (follow) scrollToEnd(true);
}

function nearBottom() {
  const p = pane();
  return p.scrollHeight - p.scrollTop - p.clientHeight < 120;
}

export function scrollToEnd(force = false) {
  const p = pane();
  if (force || nearBottom()) p.scrollTop = p.scrollHeight;
  document.getElementById('to-bottom').hidden = nearBottom();
}

function article(conv, msg, index) {
  if (msg.role === 'user') return userArticle(conv, msg, index);
  const el = h('article', { class: 'msg assistant', dataset: { id: msg.id }, 'aria-label': 'Assistant message' });
  fillAssistant(el, msg, conv, index);
  return el;
}

function userArticle(conv, msg) {
  const copy = actionButton('copy', 'Copy message', (b) => copyText(msg.content).then((ok) => ok && flashDone(b)));
  const edit = actionButton('pencil', 'Edit message', () => startEdit(el, msg));
  const el = h(
    'article',
    { class: 'msg user', dataset: { id: msg.id }, 'aria-label': 'Your message' },
    attachmentsRow(msg.attachments),
    msg.content ? h('div', { class: 'bubble', text: msg.content }) : null,
    h('div', { class: 'msg-actions' }, copy, edit),
  );
  return el;
}

function attachmentsRow(attachments = []) {
  if (!attachments.length) return null;
  return h(
    'div',
    { class: 'msg-attachments' },
    attachments.map((a) =>
      a.kind === 'image'
        ? h('img', { class: 'thumb', src: a.dataUrl, alt: a.name || 'image', loading: 'lazy' })
        : h('span', { class: 'file-chip', title: a.name }, icon('file'), h('span', { text: a.name })),
    ),
  );
}

function startEdit(el, msg) {
  const area = h('textarea', { class: 'edit-area', 'aria-label': 'Edit your message', rows: 3 });
  area.value = msg.content;
  const cancel = h('button', { type: 'button', class: 'btn', text: 'Cancel' });
  const send = h('button', { type: 'button', class: 'btn primary', text: 'Send' });
  const box = h('div', { class: 'edit-box' }, area, h('div', { class: 'edit-actions' }, cancel, send));
  const bubble = el.querySelector('.bubble');
  const actions = el.querySelector('.msg-actions');
  if (bubble) bubble.replaceWith(box);
  else el.insertBefore(box, actions);
  actions.hidden = true;
  const done = () => handlers.rerender();
  cancel.addEventListener('click', done);
  send.addEventListener('click', () => handlers.editAndResend(msg.id, area.value));
  area.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.stopPropagation();
      done();
    } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      handlers.editAndResend(msg.id, area.value);
    }
  });
  area.style.height = `${Math.min(area.scrollHeight + 4, 320)}px`;
  area.focus();
}

function fillAssistant(el, msg) {
  el.classList.toggle('pending', !!msg.pending);
  const parts = [
    msg.reasoning ? reasoningBlock(el, msg) : null,
    contentBlock(el, msg),
    msg.pending && !msg.content && !msg.reasoning ? h('div', { class: 'typing', 'aria-label': 'Waiting for the reply' }, h('i'), h('i'), h('i')) : null,
    msg.stopped ? h('p', { class: 'stopped-note', text: 'Stopped.' }) : null,
    msg.error ? errorBox(msg) : null,
    msg.pending ? null : footer(msg),
  ];
  el.replaceChildren(...parts.filter(Boolean));
}

function contentBlock(el, msg) {
  // Keep the same node across frames so selection and the open state of things survive.
  let body = el._content;
  if (!body) body = el._content = h('div', { class: 'content markdown' });
  if (body._rendered !== msg.content) {
    renderMarkdown(body, msg.content);
    body._rendered = msg.content;
  }
  body.hidden = !msg.content;
  return body;
}

function reasoningBlock(el, msg) {
  let details = el._reasoning;
  if (!details) {
    details = el._reasoning = h('details', { class: 'reasoning' }, h('summary', {}, icon('spark'), h('span', { class: 'reasoning-title' })), h('div', { class: 'reasoning-body' }));
    details.open = !!msg.pending;
  }
  details.querySelector('.reasoning-title').textContent = msg.pending && !msg.content ? 'Thinking…' : 'Reasoning';
  details.querySelector('.reasoning-body').textContent = msg.reasoning;
  return details;
}

function errorBox(msg) {
  const e = msg.error;
  const retry = h('button', { type: 'button', class: 'btn retry', 'aria-label': 'Retry this reply' }, icon('refresh'), 'Retry');
  retry.addEventListener('click', () => handlers.regenerate(msg.id));
  const status = e.status ? ` (HTTP ${e.status}${e.type ? `, ${e.type}` : ''})` : '';
  return h(
    'div',
    { class: 'error-box', role: 'alert' },
    icon('alert'),
    h('div', { class: 'error-text' }, h('p', { class: 'error-message', text: e.message + status }), e.hint ? h('p', { class: 'error-hint', text: e.hint }) : null),
    retry,
  );
}

function footer(msg) {
  const actions = h('div', { class: 'msg-actions' });
  if (msg.content) actions.append(actionButton('copy', 'Copy reply', (b) => copyText(msg.content).then((ok) => ok && flashDone(b))));
  if (!msg.error && handlers.isLast(msg.id)) {
    actions.append(actionButton('refresh', 'Regenerate reply', () => handlers.regenerate(msg.id)));
  }
  return h('div', { class: 'msg-foot' }, actions, details(msg));
}

function details(msg) {
  const parts = [];
  const add = (cls, text, title) => text && parts.push(h('span', { class: `meta-${cls}`, text, title }));
  add('model', msg.model, 'Model');
  if (msg.provider) add('provider', msg.providerModel && msg.providerModel !== msg.model ? `${msg.provider} · ${msg.providerModel}` : msg.provider, 'Provider that served it');
  if (msg.tried) add('tried', `after failover: ${triedPath(msg.tried)}`, 'Providers tried, in order (×n: tries)');
  if (msg.usage) add('tokens', `${formatCount(msg.usage.prompt_tokens)} in · ${formatCount(msg.usage.completion_tokens)} out`, 'Tokens in / out');
  add('duration', formatMs(msg.duration), 'Total time');
  if (msg.ttft != null) add('ttft', `TTFT ${formatMs(msg.ttft)}`, 'Time to first token');
  add('cost', formatCost(msg.cost), 'Cost from the gateway\'s pricing');
  return h('div', { class: 'meta', 'aria-label': 'Reply details' }, parts);
}

/** "a,a,a,b" → "a ×3 → b": the gateway's retries on one provider, then its failover. */
function triedPath(tried) {
  const runs = [];
  for (const name of tried.split(',')) {
    if (runs.length && runs.at(-1)[0] === name) runs.at(-1)[1]++;
    else runs.push([name, 1]);
  }
  return runs.map(([name, n]) => (n > 1 ? `${name} ×${n}` : name)).join(' → ');
}

function actionButton(name, label, onClick) {
  const b = h('button', { type: 'button', class: 'icon-btn small', 'aria-label': label, title: label }, icon(name));
  b.addEventListener('click', () => onClick(b));
  return b;
}
