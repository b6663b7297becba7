// Numbers for people: token counts, durations, prices, and the sidebar's day groups.

/** llms.py's pricing string "input/output" (USD per token) → {input, output}, or null. */
export function parsePricing(pricing) {
  if (typeof pricing !== 'string' || !pricing.includes('/')) return null;
  const [input, output] = pricing.split('/').map(Number);
  return Number.isFinite(input) && Number.isFinite(output) ? { input, output } : null;
}

export function costOf(usage, pricing) {
  if (!usage || !pricing) return null;
  const tokensIn = usage.prompt_tokens ?? 0;
  const tokensOut = usage.completion_tokens ?? 0;
  return tokensIn * pricing.input + tokensOut * pricing.output;
}

export function formatCost(usd) {
  if (usd == null || !Number.isFinite(usd)) return '';
  if (usd === 0) return '$0';
  if (usd >= 0.01) return `$${usd.toFixed(4).replace(/0+$/, '').replace(/\.$/, '')}`;
  return `$${usd.toPrecision(2).replace(/0+$/, '')}`;
}

export function formatMs(ms) {
  if (ms == null || !Number.isFinite(ms)) return '';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function formatCount(n) {
  return n == null ? '?' : n.toLocaleString('en-US');
}

/** Price per million tokens, the unit model lists use: "$0.15 / $0.60 per 1M". */
export function formatPricePerMillion(pricing) {
  if (!pricing) return '';
  if (pricing.input === 0 && pricing.output === 0) return 'free';
  const m = (x) => `$${+(x * 1e6).toFixed(2)}`;
  return `${m(pricing.input)} / ${m(pricing.output)} per 1M`;
}

export function dayGroup(timestamp, now = Date.now()) {
  const startOfToday = new Date(now);
  startOfToday.setHours(0, 0, 0, 0);
  const day = 86400000;
  const t = startOfToday.getTime();
  if (timestamp >= t) return 'Today';
  if (timestamp >= t - day) return 'Yesterday';
  if (timestamp >= t - 7 * day) return 'Previous 7 days';
  if (timestamp >= t - 30 * day) return 'Previous 30 days';
  return new Date(timestamp).toLocaleDateString(undefined, { year: 'numeric', month: 'long' });
}
