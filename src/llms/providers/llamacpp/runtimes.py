"""The two llama.cpp bindings a `LlamaCppProvider` can run on, behind one small surface
(`generate(job)`, `close()`, `facts`), both called on the model's worker thread only:

- `xllamacpp` (preferred): prebuilt manylinux wheels (glibc 2.17, AVX2 baseline, no AMX or
  AVX-512 assumed), so `pip install '.[local]'` takes seconds instead of a 5–11 minute compile.
  It embeds llama.cpp's own server code: OpenAI chat requests in, OpenAI chunks out through a
  callback; returning True from the callback stops the generation.
- `llama-cpp-python`: compiled from source by pip; used when it is the one installed.

See docs/local.md for the measurements behind the choice."""

from __future__ import annotations

from typing import Any, Protocol

from .settings import LocalSettings


class Runtime(Protocol):
    facts: dict[str, Any]  # for /status: threads, chat format, runtime name

    def generate(self, job: Any) -> None: ...

    def close(self) -> None: ...


def load(name: str, settings: LocalSettings) -> Runtime:
    """Load the GGUF with the runtime `name` ("xllamacpp" or "llama_cpp")."""
    return XLlamaCpp(settings) if name == "xllamacpp" else LlamaCppPython(settings)


class XLlamaCpp:
    def __init__(self, s: LocalSettings) -> None:
        import xllamacpp

        params = xllamacpp.CommonParams()
        params.model.path = str(s.model_path)
        params.n_ctx = s.n_ctx
        params.n_parallel = 1  # the worker runs one generation at a time
        params.verbosity = -1  # llama.cpp's log would go straight to the terminal
        if s.n_threads is not None:
            params.cpuparams.n_threads = s.n_threads
            params.cpuparams_batch.n_threads = s.n_threads
        try:
            self.server = xllamacpp.Server(params)
        except RuntimeError as e:  # its message says only "failed to init server"
            raise RuntimeError(f"{e} (is {s.model_path} a GGUF model llama.cpp can load?)") from None
        self.facts = {"runtime": "xllamacpp", "n_threads": s.n_threads or "auto", "chat_format": "gguf template"}

    def generate(self, job: Any) -> None:
        body = {**job.kwargs, "stream": True, "stream_options": {"include_usage": True}}
        model = body.get("model")
        failed: list[dict[str, Any]] = []

        def on_chunk(chunk: dict[str, Any]) -> bool:
            if job.stop.is_set():
                return True
            if "error" in chunk:
                failed.append(chunk["error"] if isinstance(chunk["error"], dict) else {"message": chunk["error"]})
                return True
            if chunk.get("usage"):
                usage = chunk["usage"]
                job.reported_usage = {k: usage[k] for k in ("prompt_tokens", "completion_tokens", "total_tokens")}
            if not chunk.get("choices"):
                return False  # the usage chunk: the provider adds its own when asked
            for choice in chunk["choices"]:
                job.finish_reason = choice.get("finish_reason") or job.finish_reason
            chunk.pop("timings", None)
            chunk["model"] = model  # (it says the GGUF's path)
            job.emit(chunk)
            return False

        self.server.handle_chat_completions(body, on_chunk)
        if failed:
            error = failed[0]
            message = str(error.get("message") or error)
            if error.get("type") == "exceed_context_size_error":
                message = f"the prompt does not fit the context window (n_ctx): {message}"
            if error.get("code") == 400 or error.get("type") in ("invalid_request_error", "exceed_context_size_error"):
                raise ValueError(message)  # the provider answers 400
            raise RuntimeError(message)

    def close(self) -> None:
        self.server = None


class LlamaCppPython:
    def __init__(self, s: LocalSettings) -> None:
        from llama_cpp import Llama

        self.llama = Llama(
            model_path=str(s.model_path), n_ctx=s.n_ctx, n_threads=s.n_threads, chat_format=s.chat_format, verbose=False
        )
        self.facts = {
            "runtime": "llama-cpp-python",
            "n_threads": self.llama.n_threads,
            "chat_format": self.llama.chat_format,
        }

    def generate(self, job: Any) -> None:
        job.eos = self.llama.token_eos()
        stream = self.llama.create_chat_completion(**job.kwargs, stream=True, logits_processor=[job.on_token])  # type: ignore[arg-type]  # (a plain list works)
        try:
            for chunk in stream:
                if job.stop.is_set():
                    return
                for choice in chunk.get("choices") or ():  # type: ignore[union-attr]  # (dicts when streaming)
                    job.finish_reason = choice.get("finish_reason") or job.finish_reason
                job.emit(chunk)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def close(self) -> None:
        self.llama.close()
