// The per-chat settings dialog: system prompt, the saved-prompt library, sampling parameters.

import { byId, h, newId } from '../dom.js';

let handlers = {};
let store = null;

export function initSettings(actions, promptStore) {
  handlers = actions;
  store = promptStore;
  const dialog = byId('settings');
  byId('settings-open').addEventListener('click', () => handlers.openSettings());
  byId('settings-close').addEventListener('click', () => dialog.close());
  byId('settings-cancel').addEventListener('click', () => dialog.close());
  byId('settings-form').addEventListener('submit', (e) => {
    e.preventDefault();
    handlers.saveSettings(read());
    dialog.close();
  });
  byId('prompt-use').addEventListener('click', () => {
    const p = selected();
    if (p) byId('system-prompt').value = p.text;
  });
  byId('prompt-delete').addEventListener('click', async () => {
    const p = selected();
    if (!p) return;
    await store.removePrompt(p.id);
    renderLibrary();
    handlers.notify(`Deleted the saved prompt “${p.name}”.`);
  });
  byId('prompt-save').addEventListener('click', askName);
}

/** Opens the dialog filled with `{system, params}` of the chat (or of the new-chat draft). */
export function openSettings({ system = '', params = {} }) {
  byId('system-prompt').value = system;
  byId('temperature').value = params.temperature ?? '';
  byId('top-p').value = params.top_p ?? '';
  byId('max-tokens').value = params.max_tokens ?? '';
  byId('reasoning-effort').value = params.reasoning_effort ?? '';
  byId('prompt-name-row')?.remove();
  renderLibrary();
  byId('settings').showModal();
  byId('system-prompt').focus();
}

function read() {
  const value = (id) => {
    const v = byId(id).value.trim();
    return v === '' ? null : v;
  };
  const params = {};
  for (const [key, id] of [['temperature', 'temperature'], ['top_p', 'top-p'], ['max_tokens', 'max-tokens']]) {
    const v = value(id);
    if (v !== null && Number.isFinite(Number(v))) params[key] = Number(v);
  }
  if (value('reasoning-effort')) params.reasoning_effort = value('reasoning-effort');
  return { system: byId('system-prompt').value, params };
}

function selected() {
  return store.prompts.find((p) => p.id === byId('prompt-select').value) || null;
}

function renderLibrary() {
  const select = byId('prompt-select');
  const keep = select.value;
  select.replaceChildren(
    ...(store.prompts.length
      ? store.prompts.map((p) => h('option', { value: p.id, text: p.name }))
      : [h('option', { value: '', text: 'No saved prompts yet' })]),
  );
  if (store.prompts.some((p) => p.id === keep)) select.value = keep;
  byId('prompt-use').disabled = byId('prompt-delete').disabled = !store.prompts.length;
}

function askName() {
  const text = byId('system-prompt').value.trim();
  if (!text) {
    handlers.notify('Write a system prompt first, then save it.');
    byId('system-prompt').focus();
    return;
  }
  if (byId('prompt-name-row')) return byId('prompt-name').focus();
  const input = h('input', { type: 'text', id: 'prompt-name', 'aria-label': 'Name for the saved prompt', placeholder: 'Name, e.g. “Code reviewer”', maxlength: 80 });
  const save = h('button', { type: 'button', class: 'btn primary', id: 'prompt-name-save', text: 'Save prompt' });
  const row = h('div', { class: 'library name-row', id: 'prompt-name-row' }, input, save);
  byId('settings-form').querySelector('.library').after(row);
  const commit = async () => {
    const name = input.value.trim();
    if (!name) return input.focus();
    const prompt = { id: newId('p_'), name, text: byId('system-prompt').value };
    await store.savePrompt(prompt);
    row.remove();
    renderLibrary();
    byId('prompt-select').value = prompt.id;
    handlers.notify(`Saved “${name}” to your prompts.`);
  };
  save.addEventListener('click', commit);
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      commit();
    }
  });
  input.focus();
}
