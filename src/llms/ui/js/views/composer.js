// The message box: auto-growing textarea (Enter sends, Shift+Enter breaks the line), attachments
// by paste, drag-and-drop or the picker (images → data URIs with thumbnails, text files inlined),
// and the Send/Stop button.

import { byId, h, icon, newId } from '../dom.js';

const MAX_IMAGE = 20 * 1024 * 1024;
const MAX_TEXT = 1024 * 1024;
const TEXT_EXT = new Set(
  ('txt md markdown csv tsv json jsonl yaml yml toml ini cfg conf log xml html htm css scss js mjs cjs ts tsx jsx py rb go rs ' +
    'java kt c h cc cpp hpp cs php sh bash zsh sql r swift lua pl dart scala ex exs erl hs ml vue svelte env gitignore dockerfile makefile tex rst')
    .split(' '),
);

let attachments = [];
let handlers = {};

export function initComposer(actions) {
  handlers = actions;
  const prompt = byId('prompt');
  prompt.addEventListener('input', () => {
    autosize();
    updateSend();
  });
  prompt.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  prompt.addEventListener('paste', (e) => {
    const files = [...(e.clipboardData?.files || [])];
    if (files.length) {
      e.preventDefault();
      addFiles(files);
    }
  });
  byId('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  byId('stop').addEventListener('click', () => handlers.stop());
  byId('attach').addEventListener('click', () => byId('file-input').click());
  byId('file-input').addEventListener('change', (e) => {
    addFiles([...e.target.files]);
    e.target.value = '';
  });
  initDrop();
}

function initDrop() {
  const main = byId('main');
  const zone = byId('dropzone');
  let depth = 0;
  const hasFiles = (e) => [...(e.dataTransfer?.types || [])].includes('Files');
  main.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    depth++;
    zone.hidden = false;
  });
  main.addEventListener('dragleave', () => {
    depth = Math.max(0, depth - 1);
    if (!depth) zone.hidden = true;
  });
  main.addEventListener('dragover', (e) => {
    if (hasFiles(e)) e.preventDefault();
  });
  main.addEventListener('drop', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth = 0;
    zone.hidden = true;
    addFiles([...e.dataTransfer.files]);
  });
}

function submit() {
  const prompt = byId('prompt');
  const text = prompt.value.trim();
  if ((!text && !attachments.length) || handlers.isBusy()) return;
  const sent = handlers.send(text, attachments);
  if (sent === false) return;
  prompt.value = '';
  attachments = [];
  renderAttachments();
  autosize();
  updateSend();
}

export function setBusy(busy) {
  byId('send').hidden = busy;
  byId('stop').hidden = !busy;
  updateSend();
}

export function focusPrompt() {
  byId('prompt').focus();
}

export function setPlaceholder(model) {
  byId('prompt').placeholder = model ? `Message ${model}` : 'Message';
}

function updateSend() {
  byId('send').disabled = !(byId('prompt').value.trim() || attachments.length);
}

function autosize() {
  const prompt = byId('prompt');
  prompt.style.height = 'auto';
  prompt.style.height = `${Math.min(prompt.scrollHeight, 240)}px`;
}

export async function addFiles(files) {
  for (const file of files) {
    try {
      const a = await readAttachment(file);
      attachments.push(a);
    } catch (e) {
      handlers.notify(e.message);
    }
  }
  renderAttachments();
  updateSend();
  focusPrompt();
}

async function readAttachment(file) {
  const name = file.name || 'pasted';
  if (file.type.startsWith('image/')) {
    if (file.size > MAX_IMAGE) throw new Error(`${name} is over 20 MB; attach a smaller image.`);
    return { id: newId('a_'), kind: 'image', name, type: file.type, dataUrl: await readAs(file, 'dataUrl') };
  }
  if (isText(file)) {
    if (file.size > MAX_TEXT) throw new Error(`${name} is over 1 MB; paste the part that matters.`);
    const text = await readAs(file, 'text');
    if (text.includes('\u0000')) throw new Error(`${name} looks binary; only images and text files can be attached.`);
    return { id: newId('a_'), kind: 'text', name, text };
  }
  throw new Error(`${name}: only images and text files can be attached.`);
}

function isText(file) {
  const type = file.type || '';
  if (type.startsWith('text/') || /json|xml|javascript|yaml|toml|x-sh|x-python|sql/.test(type)) return true;
  const lower = (file.name || '').toLowerCase();
  const ext = lower.includes('.') ? lower.split('.').pop() : lower;
  return TEXT_EXT.has(ext) || (!type && file.size < MAX_TEXT);
}

function readAs(file, how) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(new Error(`Could not read ${file.name}.`));
    if (how === 'dataUrl') reader.readAsDataURL(file);
    else reader.readAsText(file);
  });
}

function renderAttachments() {
  byId('attachments').replaceChildren(
    ...attachments.map((a) => {
      const remove = h('button', { type: 'button', class: 'attachment-remove', 'aria-label': `Remove ${a.name}` }, icon('x'));
      remove.addEventListener('click', () => {
        attachments = attachments.filter((x) => x !== a);
        renderAttachments();
        updateSend();
      });
      const preview = a.kind === 'image'
        ? h('img', { src: a.dataUrl, alt: a.name })
        : h('span', { class: 'attachment-file' }, icon('file'), h('span', { text: a.name }));
      return h('div', { class: `attachment ${a.kind}`, title: a.name }, preview, remove);
    }),
  );
  byId('composer').classList.toggle('has-attachments', attachments.length > 0);
}
