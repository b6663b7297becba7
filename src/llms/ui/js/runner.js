// One assistant reply: the request built from the conversation, streamed into the message
// object as it arrives, with the details people ask for (provider, tokens, timings, cost).

import { streamChat } from './api.js';
import { costOf } from './format.js';

/** The OpenAI `messages` for everything before index `upto`: system prompt, then the turns. */
export function requestMessages(conv, upto = conv.messages.length) {
  const out = [];
  if (conv.system && conv.system.trim()) out.push({ role: 'system', content: conv.system });
  for (const m of conv.messages.slice(0, upto)) {
    if (m.role === 'user') out.push({ role: 'user', content: userContent(m) });
    else if (m.role === 'assistant' && m.content) out.push({ role: 'assistant', content: m.content });
  }
  return out;
}

/** A user turn: text with text files inlined, plus images as `image_url` data-URI parts. */
export function userContent(m) {
  const attachments = m.attachments || [];
  const files = attachments.filter((a) => a.kind === 'text');
  const images = attachments.filter((a) => a.kind === 'image');
  let text = m.content || '';
  for (const f of files) {
    const fence = f.text.includes('```') ? '~~~~' : '```';
    text += `${text ? '\n\n' : ''}${f.name}:\n${fence}${languageOf(f.name)}\n${f.text}\n${fence}`;
  }
  if (!images.length) return text;
  const parts = text ? [{ type: 'text', text }] : [];
  for (const img of images) parts.push({ type: 'image_url', image_url: { url: img.dataUrl } });
  return parts;
}

function languageOf(name) {
  const ext = (name.split('.').pop() || '').toLowerCase();
  const map = { py: 'python', js: 'javascript', ts: 'typescript', rs: 'rust', rb: 'ruby', sh: 'bash', md: 'markdown', yml: 'yaml' };
  return map[ext] || (/^[a-z0-9]{1,10}$/.test(ext) && ext !== name.toLowerCase() ? ext : '');
}

/** The per-chat settings as request fields; an empty setting is left out (the model's default). */
export function requestParams(params = {}) {
  const out = {};
  const num = (v) => (v === '' || v == null || !Number.isFinite(Number(v)) ? null : Number(v));
  if (num(params.temperature) != null) out.temperature = num(params.temperature);
  if (num(params.top_p) != null) out.top_p = num(params.top_p);
  if (num(params.max_tokens) != null) out.max_tokens = Math.round(num(params.max_tokens));
  if (params.reasoning_effort) out.reasoning_effort = params.reasoning_effort;
  return out;
}

/**
 * Streams the reply for assistant message `msg` of `conv`. Mutates `msg` in place and calls
 * `onUpdate()` after each delta; never throws: errors land in `msg.error`, Stop in `msg.stopped`.
 */
export async function runReply(conv, msg, { signal, pricingFor, onUpdate }) {
  Object.assign(msg, {
    content: '', reasoning: '', error: null, stopped: false, pending: true,
    usage: null, provider: null, providerModel: null, tried: null, ttft: null, duration: null, cost: null,
  });
  const index = conv.messages.indexOf(msg);
  const messages = requestMessages(conv, index);
  const body = { model: msg.model, messages, ...requestParams(conv.params) };
  const started = performance.now();
  let pricing = null; // the answering provider's price, from the gateway's x-llms-pricing header
  try {
    for await (const event of streamChat(body, signal)) {
      if (event.type === 'open') {
        msg.provider = event.provider;
        msg.providerModel = event.providerModel;
        msg.tried = event.tried || null;
        pricing = event.pricing;
      } else if (event.type === 'delta') {
        msg.ttft ??= performance.now() - started;
        msg.content += event.content;
        msg.reasoning += event.reasoning;
        onUpdate();
      } else if (event.type === 'usage') {
        msg.usage = event.usage;
      }
    }
  } catch (e) {
    if (e.name === 'AbortError') msg.stopped = true;
    else msg.error = describe(e, messages, msg.model);
  } finally {
    msg.pending = false;
    msg.duration = performance.now() - started;
    msg.cost = costOf(msg.usage, pricing || pricingFor(msg.model, msg.provider));
  }
}

function describe(e, messages, model) {
  const error = { message: e.message || String(e), status: e.status ?? null, type: e.type ?? null, kind: e.kind || 'api' };
  const hadImages = messages.some((m) => Array.isArray(m.content) && m.content.some((p) => p.type === 'image_url'));
  if (hadImages && [400, 415, 422].includes(error.status)) {
    error.hint = `${model} may not accept images. Pick a model with vision, or remove the image and send again.`;
  } else if (e.code === 'model_not_found' || error.status === 404) {
    error.hint = 'Pick another model from the list at the top.';
  } else if (error.kind === 'network') {
    error.hint = 'Check that the gateway is still running, then retry.';
  } else if (error.status === 429) {
    error.hint = 'The provider is rate limiting; wait a moment, then retry.';
  }
  return error;
}
