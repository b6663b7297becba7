"""The `google` dialect, a package: `provider` (URL, auth, the provider class), `request`
(OpenAI request → generateContent), `response` (answers, stream events and errors → OpenAI).

The `google` dialect (`GoogleProvider`): Gemini's `generateContent` and
`streamGenerateContent?alt=sse`, translated to and from OpenAI chat shapes, plain and streamed.

Choices made where the two APIs differ:
- The key goes in the `x-goog-api-key` header (kept out of URLs and logs); `"key_in_query": true`
  on the provider sends it as `?key=` instead.
- `reasoning_effort` → `thinkingConfig` (none/minimal/low/medium/high → a budget of
  0/512/1024/8192/24576 tokens, thoughts included and returned as `reasoning_content`); without it
  the provider's `thinking_config` from llms.json is sent. `safety_settings` is sent as is.
- Tool parameter schemas are trimmed to the OpenAPI subset Gemini accepts (`additionalProperties`,
  `$schema`, … dropped; `["string", "null"]` → `nullable`).
- Gemini names a function result by function name, not call id: a `tool` message's name is looked
  up from the assistant tool call it answers. A call's `thoughtSignature` travels as
  `extra_content.google.thought_signature` on the OpenAI tool call (as Gemini's own OpenAI
  endpoint does) and is sent back with it.
"""

from .provider import DEFAULT_BASE_URL, GoogleProvider, model_url
from .request import THINKING_BUDGETS, conversation, gemini_schema, generation_config, to_gemini
from .response import FINISH_REASONS, StreamMapper, finish_reason, from_gemini, gemini_error, map_usage, read_parts

__all__ = [
    "DEFAULT_BASE_URL",
    "FINISH_REASONS",
    "THINKING_BUDGETS",
    "GoogleProvider",
    "StreamMapper",
    "conversation",
    "finish_reason",
    "from_gemini",
    "gemini_error",
    "gemini_schema",
    "generation_config",
    "map_usage",
    "model_url",
    "read_parts",
    "to_gemini",
]
