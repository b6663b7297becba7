// Conversations and saved prompts: kept in memory, newest first, written through to IndexedDB.
// Also the JSON export/import format: {format: "llms-chat", version: 1, conversations, prompts}.

import { db } from './db.js';
import { newId } from './dom.js';

const listeners = new Set();
const removed = new Set(); // ids deleted in this page: a late save (a reply still finishing) must not revive them

export const store = {
  conversations: [],
  prompts: [],

  async load() {
    const [conversations, prompts] = await Promise.all([db.all('conversations'), db.all('prompts')]);
    this.conversations = conversations.map(recover);
    this.sort();
    this.prompts = prompts.sort((a, b) => a.name.localeCompare(b.name));
    if (!this.prompts.length && !localStorage.getItem('llms.promptsSeeded')) await this.seedPrompts();
  },

  get(id) {
    return this.conversations.find((c) => c.id === id) || null;
  },

  sort() {
    this.conversations.sort((a, b) => b.updatedAt - a.updatedAt);
  },

  /** Saves `conv` (adding it when new). `touch: false` keeps its place in the list;
   * `restore: true` brings back a chat deleted in this page (Undo). */
  async save(conv, { touch = true, restore = false } = {}) {
    if (removed.has(conv.id) && !restore) return;
    removed.delete(conv.id);
    if (touch) conv.updatedAt = Date.now();
    if (!this.conversations.includes(conv)) this.conversations.push(conv);
    this.sort();
    emit();
    await db.put('conversations', conv);
  },

  async remove(id) {
    removed.add(id);
    this.conversations = this.conversations.filter((c) => c.id !== id);
    await db.delete('conversations', id);
    emit();
  },

  async savePrompt(prompt) {
    this.prompts = [...this.prompts.filter((p) => p.id !== prompt.id), prompt].sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    await db.put('prompts', prompt);
  },

  async removePrompt(id) {
    this.prompts = this.prompts.filter((p) => p.id !== id);
    await db.delete('prompts', id);
  },

  async seedPrompts() {
    localStorage.setItem('llms.promptsSeeded', '1');
    const seeds = [
      ['Concise', 'Answer briefly and precisely. Use lists and code blocks when they help; skip preambles.'],
      ['Code reviewer', 'You are a careful senior engineer. Review the code for bugs, security issues and clarity; suggest concrete fixes.'],
      ['Translator', 'Translate the user\'s text into English, keeping its tone and formatting. Reply with the translation only.'],
    ];
    for (const [name, text] of seeds) await this.savePrompt({ id: newId('p_'), name, text });
  },

  exportData() {
    return {
      format: 'llms-chat',
      version: 1,
      exportedAt: new Date().toISOString(),
      conversations: this.conversations,
      prompts: this.prompts,
    };
  },

  /** Merges an export (or a bare array of conversations); a newer copy of a chat wins. */
  async importData(data) {
    const list = Array.isArray(data) ? data : data?.conversations;
    if (!Array.isArray(list)) throw new Error('This file is not an llms chat export (no "conversations" list).');
    const incoming = list.map(normalise).filter(Boolean);
    if (list.length && !incoming.length) throw new Error('No conversation in this file could be read.');
    let added = 0;
    for (const conv of incoming) {
      const existing = this.get(conv.id);
      if (existing && existing.updatedAt > conv.updatedAt) continue;
      if (existing) this.conversations = this.conversations.filter((c) => c !== existing);
      this.conversations.push(conv);
      added++;
    }
    this.sort();
    await db.putMany('conversations', incoming.filter((c) => this.conversations.includes(c)));
    for (const p of Array.isArray(data?.prompts) ? data.prompts : []) {
      if (p && typeof p.name === 'string' && typeof p.text === 'string') {
        await this.savePrompt({ id: typeof p.id === 'string' ? p.id : newId('p_'), name: p.name, text: p.text });
      }
    }
    emit();
    return added;
  },

  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

function emit() {
  for (const fn of listeners) fn();
}

/** A reply that was streaming when the page went away is kept, marked as interrupted. */
function recover(conv) {
  for (const m of conv.messages || []) {
    if (m.pending) {
      m.pending = false;
      if (!m.error) m.error = { message: 'Interrupted: the page was closed while this reply was streaming.', kind: 'network' };
    }
  }
  return conv;
}

function normalise(raw) {
  if (!raw || typeof raw !== 'object' || !Array.isArray(raw.messages)) return null;
  const now = Date.now();
  const messages = raw.messages
    .filter((m) => m && (m.role === 'user' || m.role === 'assistant') && typeof (m.content ?? '') === 'string')
    .map((m) => ({ ...m, id: typeof m.id === 'string' ? m.id : newId('m_'), content: m.content ?? '', pending: false }));
  return {
    ...raw,
    id: typeof raw.id === 'string' && raw.id ? raw.id : newId('c_'),
    title: typeof raw.title === 'string' && raw.title ? raw.title : 'Imported chat',
    createdAt: Number(raw.createdAt) || now,
    updatedAt: Number(raw.updatedAt) || now,
    system: typeof raw.system === 'string' ? raw.system : '',
    params: raw.params && typeof raw.params === 'object' ? raw.params : {},
    messages,
  };
}

export function newConversation(model, draft = {}) {
  const now = Date.now();
  return {
    id: newId('c_'),
    title: '',
    createdAt: now,
    updatedAt: now,
    model,
    system: draft.system || '',
    params: { ...(draft.params || {}) },
    messages: [],
  };
}

export function titleFrom(text, attachments = []) {
  const line = (text || '').replace(/\s+/g, ' ').trim();
  if (line) return line.length > 60 ? `${line.slice(0, 57).trimEnd()}…` : line;
  return attachments[0]?.name || 'New chat';
}
