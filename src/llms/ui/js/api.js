// The gateway's HTTP API as the UI uses it: the model list, /status, and one streamed chat
// completion read with fetch + ReadableStream. With client keys on (`auth.required`), every
// request carries the key kept in this browser (localStorage); a 401 asks for one, once.

import { parsePricing } from './format.js';
import { SseParser } from './sse.js';

/** An error to show in the conversation: the gateway's envelope when there is one. */
export class ChatError extends Error {
  constructor(message, { status = null, type = null, code = null, kind = 'api' } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.code = code;
    this.kind = kind; // api | network | truncated
  }
}

// -- the client key ---------------------------------------------------------------------------

const KEY_ITEM = 'llms.apiKey';

/** The key this browser keeps for the gateway ('' when none). */
export function apiKey() {
  try {
    return localStorage.getItem(KEY_ITEM) || '';
  } catch {
    return ''; // storage blocked: ask each time
  }
}

export function setApiKey(key) {
  try {
    if (key) localStorage.setItem(KEY_ITEM, key);
    else localStorage.removeItem(KEY_ITEM);
  } catch {
    /* storage blocked */
  }
}

const withKey = (init, key) => (key ? { ...init, headers: { ...init.headers, Authorization: `Bearer ${key}` } } : init);

/**
 * fetch with the kept key. On a 401 it asks for a key — unless another request already got a
 * new one since this one was sent (the model list sends three at once: one question, not
 * three) — keeps it, and tries once more.
 */
async function authFetch(path, init, why) {
  const used = apiKey();
  const response = await fetch(path, withKey(init, used));
  if (response.status !== 401) return response;
  let key = apiKey();
  if (key === used) {
    const asked = window.prompt(
      `${why}\n\n${used ? 'The key kept in this browser was refused. ' : ''}Paste an API key (sk-llms-…): it is kept in this browser only.`,
      '',
    );
    key = asked ? asked.trim() : '';
    if (!key) return response;
    setApiKey(key);
  }
  return key === used ? response : fetch(path, withKey(init, key));
}

async function getJson(path) {
  const init = { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(15000) };
  const response = await authFetch(path, init, 'This gateway needs an API key.');
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

/** Every model `/v1/models` lists, with provider and pricing from llms.py's `/models`. */
export async function loadModels() {
  const [v1, details, status] = await Promise.all([
    getJson('/v1/models'),
    getJson('/models').catch(() => []),
    getJson('/status').catch(() => ({})),
  ]);
  const byId = new Map((Array.isArray(details) ? details : []).map((m) => [m.id, m]));
  const models = (v1.data || []).map((m) => {
    const d = byId.get(m.id) || {};
    return {
      id: m.id,
      provider: d.provider || m.owned_by || 'other',
      providerModel: d.provider_model || m.id,
      pricing: parsePricing(d.pricing),
    };
  });
  return { models, defaultModel: status.default_model || null, version: status.version || '' };
}

async function errorFrom(response) {
  let envelope = null;
  try {
    envelope = await response.json();
  } catch {
    /* not JSON: a proxy page or an empty body */
  }
  const e = envelope && envelope.error;
  const message = (e && (e.message || e.type)) || `The gateway answered HTTP ${response.status} ${response.statusText}`;
  return new ChatError(message, { status: response.status, type: e?.type, code: e?.code });
}

/**
 * POSTs a streamed chat completion and yields what arrives: `{type: 'open', provider,
 * providerModel, tried}` (tried: the failover path, when there was one), `{type: 'delta',
 * content, reasoning}`, `{type: 'usage', usage}`, `{type: 'done'}`. Throws ChatError (HTTP error, in-band error
 * event, network drop, a stream cut before `[DONE]`) or the AbortError of `signal`.
 */
export async function* streamChat(body, signal) {
  let response;
  try {
    const init = {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream' },
      body: JSON.stringify({ ...body, stream: true, stream_options: { include_usage: true } }),
      signal,
    };
    response = await authFetch('/v1/chat/completions', init, 'This gateway needs an API key to chat.');
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ChatError(`Could not reach the gateway (${e.message}).`, { kind: 'network' });
  }
  if (!response.ok) throw await errorFrom(response);
  yield {
    type: 'open',
    provider: response.headers.get('x-llms-provider'),
    providerModel: response.headers.get('x-llms-provider-model'),
    tried: response.headers.get('x-llms-tried'),
    pricing: parsePricing(response.headers.get('x-llms-pricing')),
  };
  const reader = response.body.getReader();
  const parser = new SseParser();
  try {
    for (;;) {
      let read;
      try {
        read = await reader.read();
      } catch (e) {
        if (e.name === 'AbortError') throw e;
        throw new ChatError('The connection to the gateway dropped before the reply finished.', { kind: 'network' });
      }
      for (const data of parser.push(read.done ? null : read.value)) {
        if (data === '[DONE]') {
          yield { type: 'done' };
          return;
        }
        yield* eventsOf(data);
      }
      if (read.done) break;
    }
  } finally {
    reader.releaseLock();
  }
  throw new ChatError('The reply stopped before it was complete (the stream ended without [DONE]).', {
    kind: 'truncated',
  });
}

function* eventsOf(data) {
  let chunk;
  try {
    chunk = JSON.parse(data);
  } catch {
    return; // a keep-alive or an event we do not know: skip it, as OpenAI's clients do
  }
  if (chunk.error) {
    const e = chunk.error;
    throw new ChatError(e.message || 'The provider failed mid-reply.', { status: e.status, type: e.type, code: e.code });
  }
  const delta = chunk.choices?.[0]?.delta;
  if (delta) {
    const reasoning = delta.reasoning_content ?? delta.reasoning ?? '';
    const content = typeof delta.content === 'string' ? delta.content : '';
    if (content || reasoning) yield { type: 'delta', content, reasoning };
  }
  if (chunk.usage) yield { type: 'usage', usage: chunk.usage };
}

// -- the usage ledger (/usage/*): the analytics page's only source. Every request to it goes
// through usageGet: with client keys on, those routes need the admin key (asked for on a 401).

/** Thrown when /usage/* answers 404: the gateway runs with the ledger off (`"usage": false`). */
export class LedgerOff extends Error {}

async function usageGet(path) {
  let response;
  try {
    const init = { headers: { Accept: 'application/json' }, signal: AbortSignal.timeout(15000) };
    response = await authFetch(path, init, 'Usage and spend are for the administrator: this needs the admin key.');
  } catch (e) {
    throw new ChatError(`Could not reach the gateway (${e.message}).`, { kind: 'network' });
  }
  if (response.status === 404 && !path.startsWith('/usage/requests/')) throw new LedgerOff('the usage ledger is off');
  if (!response.ok) throw await errorFrom(response);
  return response.json();
}

/**
 * What the analytics page shows for the UTC days from `from` (unix seconds) on: the summary per
 * day, model and provider, and the latest `limit` requests (with their attempts). Throws
 * LedgerOff when the gateway keeps no ledger.
 */
export async function loadUsage(from, limit = 200) {
  const summary = (group) => usageGet(`/usage/summary?group_by=${group}&from=${Math.floor(from)}`).then((r) => r.data);
  const days = await summary('day'); // first alone: a 401 asks for the admin key once
  const [models, providers, keys, latest] = await Promise.all([
    summary('model'),
    summary('provider'),
    summary('key'),
    usageGet(`/usage/requests?limit=${limit}`),
  ]);
  return { days, models, providers, keys, latest: latest.data, more: latest.has_more };
}
