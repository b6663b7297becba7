"""`llms "prompt"` against the fake upstream: what reaches the upstream, what the terminal
gets (stdout: the answer; stderr: one usage line), and the exit codes."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import sys
import threading

import orjson
from aiohttp import web

from ..fake_upstream import Call, FakeUpstream, chunk, error, reply, sse, stream
from .conftest import Run, cli_env


def sent(upstream: FakeUpstream, provider: str = "primary") -> dict:
    calls = upstream.received(provider)
    assert calls, f"nothing reached {provider}"
    return calls[-1].body


def test_words_are_joined_and_the_answer_streams_to_stdout(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", stream(["Hel", "lo", " there", "!"]))
    r = llms("What", "is", "the", "capital?")
    assert r.returncode == 0, r.stderr
    assert r.stdout == "Hello there!\n"
    body = sent(upstream)
    assert body["messages"][-1] == {"role": "user", "content": "What is the capital?"}
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "\x1b" not in r.stdout + r.stderr  # a pipe gets no control codes


def test_usage_summary_on_stderr_and_quiet(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", stream(["a", "b", "c", "d"]))
    line = llms("hi").stderr.strip()
    # model · provider (provider model) · tokens · cost (5 × $1e-6 + 4 × $2e-6) · time
    assert line.startswith("chat · primary (p-chat) · 5 in, 4 out tokens · $0.000013 · ")
    assert line.endswith(" s") and "\n" not in line
    q = llms("-q", "hi")
    assert q.returncode == 0 and q.stdout == "abcd\n" and q.stderr == ""


def test_summary_names_the_failover(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", error(503, "overloaded"))
    upstream.on("secondary", "s-chat", stream(["from ", "secondary"]))
    r = llms("hi")
    assert r.returncode == 0 and r.stdout == "from secondary\n"
    assert "chat · secondary (s-chat) · tried primary, secondary" in r.stderr


def test_output_is_written_as_it_arrives(llms_popen, upstream: FakeUpstream):
    """The second piece is only sent once the first has been read from the command's
    stdout: a CLI that buffered the answer would never finish (bounded by the timeout)."""
    first_seen = threading.Event()

    async def handle(call: Call) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(call.request)
        await resp.write(sse(chunk(call.model, {"role": "assistant", "content": "first "})))
        for _ in range(200):  # up to 10 s
            if first_seen.is_set():
                break
            await asyncio.sleep(0.05)
        late = "" if first_seen.is_set() else " (the first piece never reached stdout)"
        await resp.write(sse(chunk(call.model, {"content": "second" + late}, "stop")))
        await resp.write(b"data: [DONE]\n\n")
        return resp

    upstream.on("primary", "p-chat", handle)
    proc = llms_popen("go")
    assert proc.stdout.read(6) == b"first "
    first_seen.set()
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out == b"second\n"


def test_raw_prints_the_whole_json(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", reply("Paris"))
    r = llms("--raw", "capital of France?")
    assert r.returncode == 0, r.stderr
    data = orjson.loads(r.stdout)
    assert data["choices"][0]["message"]["content"] == "Paris"
    assert data["usage"]["total_tokens"] == 6 and data["object"] == "chat.completion"
    assert sent(upstream).get("stream") is False


def test_model_and_system(llms: Run, upstream: FakeUpstream):
    upstream.on("secondary", "s-only", stream(["ok"]))
    r = llms("-m", "only-secondary", "-s", "Be brief.", "hi")
    assert r.returncode == 0 and r.stdout == "ok\n"
    body = sent(upstream, "secondary")
    assert body["model"] == "s-only"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]


def test_piped_stdin_is_the_prompt_and_words_come_first(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", stream(["ok"]))
    assert llms(input="text from a pipe\n").returncode == 0
    assert sent(upstream)["messages"][-1]["content"] == "text from a pipe"
    assert llms("Summarize:", input="line one\nline two\n").returncode == 0
    assert sent(upstream)["messages"][-1]["content"] == "Summarize:\n\nline one\nline two"


def test_piped_chat_json_is_the_request(llms: Run, upstream: FakeUpstream):
    upstream.on("secondary", "s-only", stream(["ok"]))
    chat = {"model": "only-secondary", "messages": [{"role": "user", "content": "from json"}], "seed": 3}
    r = llms(input=orjson.dumps(chat).decode())
    assert r.returncode == 0, r.stderr
    body = sent(upstream, "secondary")
    assert body["messages"] == chat["messages"] and body["seed"] == 3


def test_chat_file_relative_to_the_working_directory(config_path, tmp_path, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", stream(["ok"]))
    work = tmp_path / "work"
    work.mkdir()
    chat = {"messages": [{"role": "user", "content": [{"type": "text", "text": "old"}]}], "temperature": 0.1}
    (work / "req.json").write_text(orjson.dumps(chat).decode())
    r = subprocess.run(
        [sys.executable, "-m", "llms", "--config", str(config_path), "--chat", "req.json", "new", "prompt"],
        cwd=work, input="", capture_output=True, text=True, env=cli_env(tmp_path / "home"), timeout=30,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    body = sent(upstream)
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "new prompt"}]}]
    assert body["temperature"] == 0.1


def test_attachments_reach_the_upstream_as_data_uris(llms: Run, upstream: FakeUpstream, tmp_path):
    upstream.on("primary", "p-chat", stream(["ok"]))
    png = tmp_path / "dot.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake-png-bytes")
    assert llms("--image", str(png), "-m", "chat").returncode == 0
    content = sent(upstream)["messages"][-1]["content"]
    assert content[0] == {
        "type": "image_url",
        "image_url": {"url": "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()},
    }
    assert content[1] == {"type": "text", "text": "Describe the key features of the input image"}

    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(b"%PDF-1.4 fake")
    assert llms("--file", str(pdf), "-m", "chat", "What is it?").returncode == 0
    content = sent(upstream)["messages"][-1]["content"]
    assert content[0]["file"] == {
        "filename": "doc.pdf",
        "file_data": "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4 fake").decode(),
    }
    assert content[1] == {"type": "text", "text": "What is it?"}

    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF-fake")
    assert llms("--audio", str(wav), "-m", "chat").returncode == 0
    part = sent(upstream)["messages"][-1]["content"][0]
    audio = {"data": base64.b64encode(b"RIFF-fake").decode(), "format": "wav"}
    assert part == {"type": "input_audio", "input_audio": audio}


def test_urls_and_data_uris_pass_through_unfetched(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", stream(["ok"]))
    url = "https://images.example.invalid/cat.jpg"  # .invalid: it could not be fetched anyway
    assert llms("--image", url, "-m", "chat", "what?").returncode == 0
    assert sent(upstream)["messages"][-1]["content"][0]["image_url"]["url"] == url
    uri = "data:image/gif;base64,R0lGODlhAQABAAAAACw="
    assert llms("--image", uri, "-m", "chat", "what?").returncode == 0
    assert sent(upstream)["messages"][-1]["content"][0]["image_url"]["url"] == uri


def test_args_are_coerced_like_llms_py(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", stream(["ok"]))
    r = llms("--args", "temperature=0.7&max_tokens=12&seed=-1&logprobs=true&store=False&stop=a,b&user=bob", "hi")
    assert r.returncode == 0, r.stderr
    body = sent(upstream)
    assert body["temperature"] == 0.7 and isinstance(body["max_tokens"], int) and body["max_tokens"] == 12
    assert body["seed"] == -1 and isinstance(body["seed"], int)
    assert body["logprobs"] is True and body["store"] is False
    assert body["stop"] == ["a", "b"] and body["user"] == "bob"
    bad = llms("--args", "max_tokens=lots", "hi")
    assert bad.returncode == 2 and "max_tokens='lots' is not a number" in bad.stderr


def test_failures_exit_non_zero_with_the_message_and_no_traceback(llms: Run, upstream: FakeUpstream, tmp_path):
    upstream.on("primary", "p-chat", error(400, "the prompt is too long", type="invalid_request_error"))
    r = llms("hi")
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip() == "llms: error: the prompt is too long"
    unknown = llms("-m", "no-such-model", "hi")
    assert unknown.returncode == 1 and "no-such-model" in unknown.stderr
    missing = llms("--image", str(tmp_path / "nope.png"), "hi")
    assert missing.returncode == 2 and "nope.png" in missing.stderr
    for result in (r, unknown, missing):
        assert "Traceback" not in result.stderr


def test_a_stream_cut_mid_answer_keeps_the_text_and_fails(llms: Run, upstream: FakeUpstream):
    upstream.on("primary", "p-chat", stream(["one ", "two ", "three"], cut_after=2))
    r = llms("hi")
    assert r.returncode == 1
    assert r.stdout == "one two \n"
    assert r.stderr.startswith("llms: error: ") and "Traceback" not in r.stderr


def test_nothing_to_ask_prints_help(llms: Run):
    r = llms()
    assert r.returncode == 2 and "usage: llms" in r.stderr and "examples:" in r.stderr


def test_version_and_help(llms: Run):
    v = llms("-v")
    assert v.returncode == 0 and v.stdout.startswith("llms ")
    h = llms("--help")
    assert h.returncode == 0 and "llms --check groq" in h.stdout and "--enable" in h.stdout


def test_verbose_names_the_config_and_the_skipped_providers(llms: Run, upstream: FakeUpstream, config_path):
    upstream.on("primary", "p-chat", stream(["ok"]))
    r = llms("--verbose", "hi")
    assert r.returncode == 0 and r.stdout == "ok\n"
    assert f"llms: config {config_path}" in r.stderr
    assert "llms: notice: nokey: skipped, $LLMS_TEST_UNSET_KEY is not set" in r.stderr
