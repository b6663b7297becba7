// Markdown → safe HTML: marked (GFM), highlight.js for fenced code, DOMPurify over the result,
// then code blocks get a header with their language and a copy button. Remote images are turned
// into links, so a reply can never make the browser fetch from another host.

import DOMPurify from '../vendor/dompurify/purify.es.js';
import hljs from '../vendor/highlight/highlight.min.js';
import { Marked } from '../vendor/marked/marked.esm.js';
import { copyText, flashDone, h, icon } from './dom.js';

const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function highlight(code, lang) {
  const language = (lang || '').trim().split(/\s+/)[0].toLowerCase();
  if (language && hljs.getLanguage(language)) {
    try {
      return { html: hljs.highlight(code, { language, ignoreIllegals: true }).value, language };
    } catch {
      /* fall through to plain text */
    }
  }
  return { html: escapeHtml(code), language };
}

const marked = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    code({ text, lang }) {
      const { html, language } = highlight(text, lang);
      const cls = language ? ` language-${escapeHtml(language)}` : '';
      return `<pre data-lang="${escapeHtml(language || '')}"><code class="hljs${cls}">${html}</code></pre>\n`;
    },
  },
});

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.tagName === 'A') {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer');
  }
  if (node.tagName === 'IMG') {
    const src = node.getAttribute('src') || '';
    if (!/^data:image\//i.test(src)) {
      node.removeAttribute('src');
      node.setAttribute('data-remote-src', src);
    }
  }
});

const PURIFY = {
  FORBID_TAGS: ['style', 'form', 'input', 'button', 'textarea', 'select', 'iframe', 'object', 'embed'],
  FORBID_ATTR: ['style'],
};

/** Renders `text` as Markdown into `target`, replacing what it had. */
export function renderMarkdown(target, text) {
  const html = DOMPurify.sanitize(marked.parse(text || ''), PURIFY);
  target.innerHTML = html;
  for (const pre of target.querySelectorAll('pre')) decorateCode(pre);
  for (const img of target.querySelectorAll('img[data-remote-src]')) {
    const url = img.dataset.remoteSrc;
    img.replaceWith(h('a', { href: url, target: '_blank', rel: 'noopener noreferrer' }, img.alt || url));
  }
  for (const table of target.querySelectorAll('table')) {
    const wrap = h('div', { class: 'table-wrap' });
    table.replaceWith(wrap);
    wrap.append(table);
  }
}

function decorateCode(pre) {
  const lang = pre.dataset.lang || '';
  const copy = h('button', { type: 'button', class: 'code-copy', 'aria-label': `Copy ${lang || 'code'}` }, icon('copy'), 'Copy');
  copy.addEventListener('click', async () => {
    const ok = await copyText(pre.querySelector('code')?.textContent ?? pre.textContent);
    if (ok) flashDone(copy);
  });
  const block = h('div', { class: 'code-block' }, h('div', { class: 'code-head' }, h('span', { text: lang || 'text' }), copy));
  pre.replaceWith(block);
  block.append(pre);
}
