"""`POST /v1/responses` through the real gateway: the official `openai` SDK's responses.create /
.stream / .parse, and the OpenAI Agents SDK running an agent with a function tool over the
Responses API and over chat completions; stateless refusals; stream safety."""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest
from pydantic import BaseModel

from ..fake_upstream import completion, reply, stream

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CALL = {"id": "call_7", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}


class City(BaseModel):
    name: str
    country: str


@pytest.fixture
def client(gateway) -> openai.OpenAI:
    return openai.OpenAI(api_key="unused", base_url=gateway.url + "/v1", max_retries=0)


def test_create(client, upstream):
    got = client.responses.create(
        model="gpt", instructions="Be brief.", input="Hi", max_output_tokens=40, temperature=0.2, store=False
    )
    assert got.output_text == "Hello from primary" and got.status == "completed"
    assert got.usage.input_tokens == 5 and got.model == "gpt"
    sent = upstream.received("primary")[-1].body
    assert sent["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    assert (sent["max_tokens"], sent["temperature"]) == (40, 0.2)


def test_stream(client):
    with client.responses.stream(model="gpt", input="Hi") as s:
        deltas = [e.delta for e in s if e.type == "response.output_text.delta"]
        final = s.get_final_response()
    assert "".join(deltas) == "Hello there!" and final.output_text == "Hello there!"
    assert final.usage.output_tokens == 4


def test_parse(client, upstream):
    upstream.on("primary", "up-gpt", reply('{"name": "Oslo", "country": "Norway"}'))
    got = client.responses.parse(model="gpt", input="Where?", text_format=City)
    assert got.output_parsed == City(name="Oslo", country="Norway")
    fmt = upstream.received("primary")[-1].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "City"


def test_function_tool_round_trip(client, upstream):
    upstream.on("primary", "up-gpt", stream(pieces=[], tool_calls=[CALL]))
    with client.responses.stream(model="gpt", input="Weather in Oslo?", tools=[TOOL]) as s:
        final = s.get_final_response()
    (call,) = [o for o in final.output if o.type == "function_call"]
    assert (call.call_id, call.name, call.arguments) == ("call_7", "get_weather", '{"city":"Oslo"}')
    upstream.on("primary", "up-gpt", reply("Sunny."))
    follow = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"type": "function_call", "call_id": call.call_id, "name": call.name, "arguments": call.arguments},
        {"type": "function_call_output", "call_id": call.call_id, "output": "sunny, 18C"},
    ]
    assert client.responses.create(model="gpt", input=follow, tools=[TOOL]).output_text == "Sunny."
    sent = upstream.received("primary")[-1].body["messages"]
    assert sent[1]["tool_calls"][0]["id"] == "call_7" and sent[2] == {
        "role": "tool",
        "tool_call_id": "call_7",
        "content": "sunny, 18C",
    }


def test_stateful_requests_are_refused(client):
    with pytest.raises(openai.BadRequestError, match="stateless") as e:
        client.responses.create(model="gpt", input="Hi", previous_response_id="resp_123")
    assert e.value.param == "previous_response_id"
    with pytest.raises(openai.BadRequestError, match="store"):
        client.responses.create(model="gpt", input="Hi", store=True)


def test_failover_before_first_content(client, upstream):
    upstream.on("primary", "up-gpt", stream(pieces=["never"], cut_after=0))
    with client.responses.stream(model="gpt", input="Hi") as s:
        final = s.get_final_response()
    assert final.output_text == "Hello there!"
    assert [c.provider for c in upstream.received()] == ["primary", "secondary"]


def test_failure_after_content_is_in_band(client, gateway, upstream):
    upstream.on("primary", "up-gpt", stream(pieces=["Hel", "lo"], cut_after=1))
    events = [e.type for e in client.responses.create(model="gpt", input="Hi", stream=True)]
    assert events[-2:] == ["error", "response.failed"] and "response.completed" not in events
    upstream.on("primary", "up-gpt", stream(pieces=["Hel", "lo"], cut_after=1))
    raw = httpx.post(gateway.url + "/v1/responses", json={"model": "gpt", "input": "x", "stream": True}).text
    assert "event: response.failed" in raw and "response.completed" not in raw


def _agent_upstream(upstream, model: str) -> None:
    """Asks for the tool first, answers from its output next (plain or streamed)."""

    async def handle(call):
        done = any(m.get("role") == "tool" for m in call.body["messages"])
        if call.body.get("stream"):
            script = stream(pieces=["It is sunny in Oslo."]) if done else stream(pieces=[], tool_calls=[CALL])
            return await script(call)
        answer = completion("It is sunny in Oslo.", model) if done else completion("", model, tool_calls=[CALL])
        if not done:
            answer["choices"][0]["finish_reason"] = "tool_calls"
        from aiohttp import web

        return web.json_response(answer)

    upstream.on("primary", model, handle)


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
def test_openai_agents_with_a_function_tool(gateway, upstream, api):
    import agents

    agents.set_tracing_disabled(True)
    seen: list[str] = []

    @agents.function_tool
    def get_weather(city: str) -> str:
        """Weather in a city."""
        seen.append(city)
        return "sunny, 18C"

    _agent_upstream(upstream, "up-agent")
    client = openai.AsyncOpenAI(api_key="unused", base_url=gateway.url + "/v1", max_retries=0)
    if api == "responses":
        model = agents.OpenAIResponsesModel(model="agent", openai_client=client)
    else:
        model = agents.OpenAIChatCompletionsModel(model="agent", openai_client=client)
    agent = agents.Agent(name="weather", instructions="Use the tool.", tools=[get_weather], model=model)

    async def run() -> str:
        result = await agents.Runner.run(agent, "Weather in Oslo?")
        streamed = agents.Runner.run_streamed(agent, "Weather in Oslo?")
        async for _ in streamed.stream_events():
            pass
        assert streamed.final_output == "It is sunny in Oslo."
        await client.close()
        return str(result.final_output)

    assert asyncio.run(run()) == "It is sunny in Oslo."
    assert seen == ["Oslo", "Oslo"]
    paths = {c.path for c in upstream.received("primary")}
    assert paths == {"/primary/v1/chat/completions"}  # both APIs reach the upstream as chat
