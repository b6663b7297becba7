#!/usr/bin/env python3
"""The Python floor, for calibration only: the least an aiohttp + orjson + uvloop gateway can do
per request — parse the body, rewrite `model`, forward it on a pooled keep-alive session, add
`metadata` to the answer, forward a stream's bytes as they arrive. No routing, no failover, no
validation, no timeouts. Measured in the same run as llms, it shows how much of our overhead
is the stack itself (benchmarks/run.sh --name floor --cmd 'python3 benchmarks/gateways/aiohttp_floor.py').
Reads BENCH_PORT and BENCH_UPSTREAM (set by run.py)."""

import os

import aiohttp
import orjson
import uvloop
from aiohttp import web

UPSTREAM = os.environ["BENCH_UPSTREAM"] + "/v1/chat/completions"
HEADERS = {"Content-Type": "application/json", "Authorization": "Bearer sk-mock"}


async def make_app() -> web.Application:
    app = web.Application()
    session: dict[str, aiohttp.ClientSession] = {}

    async def start(app: web.Application) -> None:
        session["s"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))

    async def stop(app: web.Application) -> None:
        await session["s"].close()

    async def chat(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        body["model"] = body["model"]  # a real gateway rewrites it to the provider's id
        data = orjson.dumps(body)
        async with session["s"].post(UPSTREAM, data=data, headers=HEADERS) as upstream:
            if body.get("stream"):
                response = web.StreamResponse()
                response.content_type = "text/event-stream"
                await response.prepare(request)
                async for piece in upstream.content.iter_any():
                    await response.write(piece)
                await response.write_eof()
                return response
            answer = orjson.loads(await upstream.read())
        answer["metadata"] = {"duration": 0}
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/v1/chat/completions", chat)
    return app


if __name__ == "__main__":
    uvloop.install()
    web.run_app(make_app(), host="127.0.0.1", port=int(os.environ["BENCH_PORT"]), access_log=None, print=None)
