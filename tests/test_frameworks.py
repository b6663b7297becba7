"""The README's framework examples, run as written against the gateway: LangChain
`ChatOpenAI` and LlamaIndex `OpenAILike` (LlamaIndex's `OpenAI` class refuses model names it
does not know, which is why the README shows `OpenAILike`)."""

from __future__ import annotations

import pytest

from . import fake_upstream as fu


def test_langchain_invoke_and_stream(gateway, upstream):
    from langchain_openai import ChatOpenAI

    upstream.on("primary", "p-chat", fu.reply("LangChain works."))
    llm = ChatOpenAI(model="chat", base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    assert llm.invoke("Say something").content == "LangChain works."
    assert upstream.received("primary")[-1].body["messages"] == [{"role": "user", "content": "Say something"}]

    upstream.on("primary", "p-chat", fu.stream(["Lang", "Chain ", "streams."], delay=0.05))
    parts = [c.content for c in llm.stream("Stream something") if c.content]
    assert parts == ["Lang", "Chain ", "streams."]


def test_llamaindex_openai_class_rejects_non_openai_model_names(gateway):
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai import OpenAI

    llm = OpenAI(model="chat", api_base=gateway.url + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(ValueError, match="Unknown model"):
        llm.chat([ChatMessage(role="user", content="hi")])


def test_llamaindex_openailike_chat_and_stream(gateway, upstream):
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai_like import OpenAILike

    llm = OpenAILike(
        model="chat",
        api_base=gateway.url + "/v1",
        api_key="unused",
        is_chat_model=True,
        context_window=32768,
        max_retries=0,
    )
    upstream.on("primary", "p-chat", fu.reply("LlamaIndex works."))
    assert llm.chat([ChatMessage(role="user", content="hi")]).message.content == "LlamaIndex works."

    upstream.on("primary", "p-chat", fu.stream(["Llama", "Index"]))
    deltas = [r.delta for r in llm.stream_chat([ChatMessage(role="user", content="hi")]) if r.delta]
    assert deltas == ["Llama", "Index"]
    assert upstream.received("primary")[-1].body["stream"] is True
