"""OpenAI chat shapes, the lingua franca inside the gateway (typed, not wrapped: requests
and responses stay plain dicts so unknown fields pass through untouched)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict


class ChatMessage(TypedDict, total=False):
    role: str
    content: str | list[dict[str, Any]] | None
    name: str
    tool_calls: list[dict[str, Any]]
    tool_call_id: str
    reasoning_content: str


class ChatRequest(TypedDict, total=False):
    """`POST /v1/chat/completions` body. Only `model` and `messages` are required; every
    other field (documented or not) is forwarded as the client sent it."""

    model: str
    messages: list[ChatMessage]
    stream: bool
    stream_options: dict[str, Any]
    tools: list[dict[str, Any]]
    tool_choice: Any
    max_tokens: int
    max_completion_tokens: int
    temperature: float
    top_p: float
    stop: str | list[str]


class Usage(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    prompt_tokens_details: dict[str, Any]
    completion_tokens_details: dict[str, Any]


class ChatCompletion(TypedDict):
    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: NotRequired[Usage]


class ChatCompletionChunk(TypedDict):
    id: str
    object: str
    created: int
    model: str
    choices: list[dict[str, Any]]
    usage: NotRequired[Usage | None]


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds allowed for one upstream attempt: to connect, to the first byte of the
    answer, between two chunks of a stream, and in all."""

    connect: float = 10.0
    first_byte: float = 120.0
    idle: float = 60.0
    total: float = 600.0


@dataclass(slots=True)
class Chunk:
    """One streamed `chat.completion.chunk`. `raw` holds the upstream's exact JSON bytes
    when the chunk is forwarded untouched, so the SSE writer need not serialise it again.
    `native` is set only on a native pass-through (see `Native`): the exact bytes the client's
    own API should see for this chunk (b"" when another chunk of the same event carries them)."""

    data: dict[str, Any]
    raw: bytes | None = None
    native: bytes | None = None


class Native(dict[str, Any]):
    """A chat request (or answer) that also carries the same request (or answer) in an inbound
    API's own shape, `api` naming that API (e.g. "anthropic.messages"). A provider whose
    `native_apis` include it sends `body` as it is — no double translation, nothing lost (cache
    control, thinking signatures) — and answers with a `Native` too; every other provider sees
    the plain chat request (copying the dict drops the extra fields)."""

    __slots__ = ("api", "body")

    def __init__(self, chat: dict[str, Any], api: str, body: dict[str, Any]) -> None:
        super().__init__(chat)
        self.api = api
        self.body = body


class AttemptFact(TypedDict):
    """One try at one provider, as the ledger keeps it: the HTTP status it gave (None when no
    answer came), our error code (None on success) and how long it took."""

    provider: str
    status: int | None
    error: str | None
    seconds: float


@dataclass(slots=True)
class RequestRecord:
    """The record of one client request, filled as it goes: the codec sets `model`/`stream`,
    the router notes every attempt (`tried`, `attempts`, the serving provider), the stream
    driver the first chunk and usage, the handler how it ended. Headers, the access log and
    the ledger all read it; nothing request-scoped lives anywhere else."""

    id: str
    model: str = ""
    started: float = 0.0  # time.perf_counter() when the request arrived
    created: float = 0.0  # time.time() when the request arrived
    stream: bool = False
    provider: str = ""
    provider_model: str = ""
    pricing: str | None = None
    tried: list[str] = field(default_factory=list)
    attempts: list[AttemptFact] = field(default_factory=list)
    first_chunk_at: float | None = None
    usage: dict[str, Any] | None = None
    status: int = 0  # what the client got
    outcome: str = "ok"  # ok, client_error, upstream_error, timeout, cancelled, truncated
    error: Exception | str | None = None
    content: dict[str, Any] | None = None  # request and answer, only when the ledger keeps content
    api: str = "chat.completions"  # the inbound API: chat.completions, messages, responses, embeddings
    key: str | None = None  # the client key's name (the ledger's `key`), never the key itself
    limit: Any = None  # the limiter's admission, settled on the real tokens and cost at the end
    headers: dict[str, str] | None = None  # added to every answer: OpenAI's x-ratelimit-*


def has_content(chunk: dict[str, Any]) -> bool:
    """True when a chunk carries something the client would show or act on: text,
    reasoning, a tool call, a refusal or a finish reason. A bare role chunk does not."""
    for choice in chunk.get("choices") or ():
        if choice.get("finish_reason"):
            return True
        delta = choice.get("delta") or {}
        if (
            delta.get("content")
            or delta.get("tool_calls")
            or delta.get("reasoning_content")
            or delta.get("reasoning")
            or delta.get("refusal")
            or delta.get("function_call")
        ):
            return True
    return False


# What one upstream answer may weigh: a non-streamed body, and one SSE event or stream line
# (a large base64 image fits); `limits.upstream_body` / `limits.upstream_event` in llms.json.
MAX_UPSTREAM_BODY = 64 << 20
MAX_UPSTREAM_EVENT = 16 << 20


@dataclass(slots=True)
class ProviderConfig:
    """One validated provider entry of `llms.json`, as the provider factories receive it."""

    name: str
    type: str
    enabled: bool = True
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None  # the `$NAME` it came from, when it did
    models: dict[str, str] = field(default_factory=dict)
    pricing: dict[str, dict[str, Any]] = field(default_factory=dict)
    default_pricing: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    timeouts: Timeouts = field(default_factory=Timeouts)
    extra: dict[str, Any] = field(default_factory=dict)  # dialect-specific keys (all_models, safety_settings…)
    max_body: int = MAX_UPSTREAM_BODY  # largest non-streamed answer (`limits.upstream_body`)
    max_event: int = MAX_UPSTREAM_EVENT  # largest SSE event or stream line (`limits.upstream_event`)

    @property
    def missing_key(self) -> bool:
        """True when the key is an `$ENV` reference whose variable is unset."""
        return self.api_key_env is not None and not self.api_key

    def price(self, provider_model: str) -> str | None:
        """llms.py's "input/output" pricing string for a model, when known."""
        p = self.pricing.get(provider_model) or self.default_pricing
        if not p or "input" not in p or "output" not in p:
            return None
        return f"{p['input']}/{p['output']}"
