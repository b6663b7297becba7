// Light, dark, or the system's choice: stored in localStorage, applied as <html data-theme>,
// which the CSS turns into `color-scheme` (and so every light-dark() colour).

import { byId, icon } from './dom.js';

const MODES = ['system', 'light', 'dark'];
const ICON = { system: 'monitor', light: 'sun', dark: 'moon' };
const LABEL = { system: 'System', light: 'Light', dark: 'Dark' };

export function initTheme() {
  apply(localStorage.getItem('llms.theme') || 'system');
  byId('theme').addEventListener('click', () => {
    const mode = document.documentElement.dataset.theme;
    const next = MODES[(MODES.indexOf(mode) + 1) % MODES.length];
    localStorage.setItem('llms.theme', next);
    apply(next);
  });
}

function apply(mode) {
  if (!MODES.includes(mode)) mode = 'system';
  document.documentElement.dataset.theme = mode;
  const button = byId('theme');
  button.querySelector('.icon')?.replaceWith(icon(ICON[mode]));
  button.querySelector('.theme-label').textContent = LABEL[mode];
  button.setAttribute('aria-label', `Theme: ${LABEL[mode].toLowerCase()} (switch)`);
}
