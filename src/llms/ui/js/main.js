// The chat app: state, the actions the views call, keyboard shortcuts, start-up.
// Views draw and report; this module decides and saves.

import { loadModels } from './api.js';
import { byId, download, fillIcons, newId } from './dom.js';
import { runReply } from './runner.js';
import { newConversation, store, titleFrom } from './store.js';
import { initTheme } from './theme.js';
import { initAnalytics, refresh as refreshAnalytics } from './views/analytics.js';
import { focusPrompt, initComposer, setBusy, setPlaceholder } from './views/composer.js';
import { close as closeModels, initModelPicker, isOpen as modelsOpen, setModels, showModel } from './views/models.js';
import { initSettings, openSettings } from './views/settings.js';
import { initSidebar, isPhone, renderSidebar, toggleSidebar } from './views/sidebar.js';
import { initThread, renderThread, updateMessage } from './views/thread.js';
import { announce, toast } from './views/toast.js';

const state = {
  models: [],
  defaultModel: null,
  model: null, // the model the next message goes to
  current: null, // the open conversation, or null for a new chat not sent yet
  draft: { system: '', params: {} }, // settings of that new chat
  streaming: null, // {conv, msg, controller}
};

/** Saves a chat; a browser that refuses (storage full, private mode) gets one notice, and the
 * chat goes on in memory. */
let saveWarned = false;
async function persist(conv, options) {
  try {
    await store.save(conv, options);
  } catch (e) {
    if (!saveWarned) toast(`This chat could not be saved in the browser: ${e.message || e}`, { timeout: 8000 });
    saveWarned = true;
  }
}

// -- models -------------------------------------------------------------------------------------

function preferredModel() {
  const ids = new Set(state.models.map((m) => m.id));
  const last = localStorage.getItem('llms.model');
  if (last && ids.has(last)) return last;
  if (state.defaultModel && ids.has(state.defaultModel)) return state.defaultModel;
  return state.models[0]?.id ?? null;
}

function setModel(id) {
  state.model = id;
  showModel(id);
  setPlaceholder(id);
  const m = state.models.find((x) => x.id === id);
  byId('empty-sub').textContent = m ? `${m.id} · served by ${m.provider}` : id ? `${id} is not served by this gateway now` : '';
}

function pickModel(id) {
  localStorage.setItem('llms.model', id);
  setModel(id);
  if (state.current) {
    state.current.model = id;
    persist(state.current, { touch: false });
  }
  announce(`Model: ${id}`);
  focusPrompt();
}

function pricingFor(model, provider) {
  const m = state.models.find((x) => x.id === model);
  if (!m || !m.pricing) return null;
  return !provider || provider === m.provider ? m.pricing : null;
}

// -- conversations ------------------------------------------------------------------------------

function refreshSidebar() {
  renderSidebar(store.conversations, state.current?.id);
}

/** The analytics page or the chat: one `view-analytics` class on the app decides what shows. */
function showView(analytics) {
  byId('app').classList.toggle('view-analytics', analytics);
  byId('analytics').hidden = !analytics;
  byId('analytics-link').toggleAttribute('aria-current', false);
  if (analytics) byId('analytics-link').setAttribute('aria-current', 'page');
}

function openAnalytics() {
  showView(true);
  state.current = null;
  refreshSidebar();
  document.title = 'Analytics · llms';
  if (isPhone()) toggleSidebar(false);
  refreshAnalytics();
}

function openConversation(id) {
  const conv = store.get(id);
  if (!conv) return newChat();
  showView(false);
  state.current = conv;
  history.replaceState(null, '', `#/c/${conv.id}`);
  setModel(conv.model && state.models.some((m) => m.id === conv.model) ? conv.model : preferredModel());
  renderThread(conv);
  refreshSidebar();
  updateSettingsBadge();
  document.title = `${conv.title} · llms`;
  if (!isPhone()) focusPrompt();
}

function newChat() {
  showView(false);
  state.current = null;
  state.draft = { system: '', params: {} };
  history.replaceState(null, '', location.pathname);
  setModel(preferredModel());
  renderThread(null);
  refreshSidebar();
  updateSettingsBadge();
  document.title = 'llms';
  focusPrompt();
}

function send(text, attachments) {
  if (state.streaming) return false;
  if (!state.model) {
    toast('No model to send to: the gateway lists none. Enable a provider in llms.json.');
    return false;
  }
  let conv = state.current;
  if (!conv) {
    conv = newConversation(state.model, state.draft);
    conv.title = titleFrom(text, attachments);
    state.current = conv;
    history.replaceState(null, '', `#/c/${conv.id}`);
    document.title = `${conv.title} · llms`;
  }
  conv.model = state.model;
  const now = Date.now();
  conv.messages.push({ id: newId('m_'), role: 'user', content: text, attachments: [...attachments], createdAt: now });
  const reply = { id: newId('m_'), role: 'assistant', content: '', model: state.model, pending: true, createdAt: now };
  conv.messages.push(reply);
  generate(conv, reply);
  return true;
}

async function generate(conv, msg) {
  const controller = new AbortController();
  state.streaming = { conv, msg, controller };
  setBusy(true);
  msg.pending = true;
  await persist(conv);
  if (state.current === conv) renderThread(conv);
  const saver = setInterval(() => persist(conv, { touch: false }), 2000);
  await runReply(conv, msg, { signal: controller.signal, pricingFor, onUpdate: () => updateMessage(msg) });
  clearInterval(saver);
  state.streaming = null;
  setBusy(false);
  await persist(conv);
  updateMessage(msg); // its final form: details, actions; the reader's scroll position is kept
  announce(msg.error ? `Error: ${msg.error.message}` : msg.stopped ? 'Stopped.' : 'Reply finished.');
}

function stop() {
  state.streaming?.controller.abort();
}

function regenerate(msgId) {
  const conv = state.current;
  if (!conv || state.streaming) return;
  const index = conv.messages.findIndex((m) => m.id === msgId);
  if (index < 0) return;
  const old = conv.messages[index];
  const reply = { id: newId('m_'), role: 'assistant', content: '', model: state.model || old.model, pending: true, createdAt: Date.now() };
  conv.messages.splice(index, conv.messages.length - index, reply);
  generate(conv, reply);
}

function editAndResend(msgId, text) {
  const conv = state.current;
  if (!conv || state.streaming) return;
  const index = conv.messages.findIndex((m) => m.id === msgId);
  const msg = conv.messages[index];
  if (!msg || (!text.trim() && !msg.attachments?.length)) return;
  msg.content = text.trim();
  const reply = { id: newId('m_'), role: 'assistant', content: '', model: state.model, pending: true, createdAt: Date.now() };
  conv.messages.splice(index + 1, conv.messages.length - index - 1, reply);
  generate(conv, reply);
}

async function rename(id, title) {
  const conv = store.get(id);
  if (!conv) return;
  conv.title = title;
  await persist(conv, { touch: false });
  if (conv === state.current) document.title = `${title} · llms`;
}

async function remove(id) {
  const conv = store.get(id);
  if (!conv) return;
  if (state.streaming?.conv === conv) stop();
  const wasOpen = state.current === conv;
  try {
    await store.remove(id);
  } catch (e) {
    toast(`Could not delete the chat: ${e.message || e}`);
    return;
  }
  if (wasOpen) newChat();
  const undo = async () => {
    await persist(conv, { touch: false, restore: true });
    if (wasOpen && !state.current) openConversation(conv.id);
  };
  toast(`Deleted “${conv.title}”.`, { timeout: 6000, action: { label: 'Undo', run: undo } });
}

// -- settings, import/export --------------------------------------------------------------------

function settingsTarget() {
  return state.current || state.draft;
}

function saveSettings({ system, params }) {
  const target = settingsTarget();
  target.system = system;
  target.params = params;
  if (state.current) persist(state.current, { touch: false });
  updateSettingsBadge();
  toast('Chat settings saved.');
}

function updateSettingsBadge() {
  const t = settingsTarget();
  const custom = !!(t.system && t.system.trim()) || Object.keys(t.params || {}).length > 0;
  byId('settings-open').classList.toggle('badge', custom);
}

function exportChats() {
  const day = new Date().toISOString().slice(0, 10);
  download(`llms-chats-${day}.json`, JSON.stringify(store.exportData(), null, 2));
  toast(`Exported ${store.conversations.length} chat${store.conversations.length === 1 ? '' : 's'}.`);
}

async function importChats(file) {
  try {
    const count = await store.importData(JSON.parse(await file.text()));
    toast(`Imported ${count} chat${count === 1 ? '' : 's'}.`);
  } catch (e) {
    toast(`Import failed: ${e instanceof SyntaxError ? 'the file is not valid JSON' : e.message}`, { timeout: 7000 });
  }
}

// -- start-up -----------------------------------------------------------------------------------

function wireGlobal() {
  document.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && !e.shiftKey && !e.altKey && e.key.toLowerCase() === 'k') {
      e.preventDefault();
      newChat();
    } else if (e.key === 'Escape' && !e.defaultPrevented && !byId('settings').open) {
      if (modelsOpen()) closeModels();
      else if (state.streaming) stop();
      else if (byId('app').classList.contains('drawer-open')) toggleSidebar(false);
    }
  });
  for (const id of ['new-chat', 'new-chat-top']) {
    byId(id).addEventListener('click', () => {
      newChat();
      if (isPhone()) toggleSidebar(false);
    });
  }
  byId('brand').addEventListener('click', (e) => {
    e.preventDefault();
    newChat();
  });
  byId('export').addEventListener('click', exportChats);
  byId('import').addEventListener('click', () => byId('import-file').click());
  byId('import-file').addEventListener('change', (e) => {
    if (e.target.files[0]) importChats(e.target.files[0]);
    e.target.value = '';
  });
  window.addEventListener('hashchange', () => {
    if (location.hash === '#/analytics') openAnalytics();
  });
  if (/Mac|iPhone|iPad/.test(navigator.platform)) byId('new-chat-kbd').textContent = '⌘ K';
  window.addEventListener('pagehide', () => state.streaming && persist(state.streaming.conv, { touch: false }));
}

async function start() {
  fillIcons();
  initTheme();
  const actions = {
    send, stop, regenerate, editAndResend, rename, remove, notify: (m) => toast(m),
    isBusy: () => !!state.streaming,
    isLast: (id) => state.current?.messages.at(-1)?.id === id,
    rerender: () => state.current && renderThread(state.current),
    open: openConversation,
    refresh: refreshSidebar,
    openSettings: () => openSettings(settingsTarget()),
    saveSettings,
  };
  initThread(actions);
  initSidebar(actions);
  initComposer(actions);
  initSettings(actions, store);
  initModelPicker([], pickModel);
  initAnalytics();
  wireGlobal();
  store.subscribe(refreshSidebar);
  try {
    await store.load();
  } catch (e) {
    toast(`Chat history is unavailable in this browser: ${e.message}`, { timeout: 10000 });
  }
  try {
    Object.assign(state, await loadModels());
  } catch (e) {
    toast(`Could not load the model list: ${e.message}`, { timeout: 10000 });
  }
  setModels(state.models);
  const id = location.hash.match(/^#\/c\/(.+)$/)?.[1];
  if (location.hash === '#/analytics') openAnalytics();
  else if (id && store.get(decodeURIComponent(id))) openConversation(decodeURIComponent(id));
  else newChat();
  document.documentElement.classList.add('ready');
}

start();
