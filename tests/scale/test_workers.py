"""`llms --serve PORT --workers 2`: two worker processes answer on one port, one banner; SIGTERM
to the supervisor drains both with streams in flight and exits 0; SIGHUP reaches both; a
killed worker is restarted; workers whose supervisor was killed exit by themselves."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import httpx

from tests.fault import faults as f
from tests.fault.client import ANSWERED, ask

from .conftest import config, pids_seen, status_pid, wait_until


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


async def streams(url: str, model: str, count: int) -> list:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0, force_close=True)) as s:
        return list(await asyncio.gather(*(ask(s, url, model, f"{model}#{i}", deadline=30) for i in range(count))))


def test_two_workers_answer_from_two_pids_with_one_banner(upstream, gateway_for):
    gw = gateway_for(config(upstream, "wk-a", "wk"), "--workers", "2")
    pids = pids_seen(gw.url, 2)
    assert len(pids) == 2 and gw.proc.pid not in pids
    assert all(parent_of(pid) == gw.proc.pid for pid in pids)  # the supervisor's children
    out = gw.output()
    assert out.count("API: http://localhost:") == 1, out
    assert f"workers: 2 processes sharing port {gw.port} (supervisor pid {gw.proc.pid})" in out


async def test_sigterm_drains_both_workers_with_streams_in_flight(upstream, gateway_for):
    upstream.on("drain-a", "drain", f.echo(delay=0.25))  # ~2 s per answer
    gw = gateway_for(config(upstream, "drain-a", "drain"), "--workers", "2")
    pids = await asyncio.to_thread(pids_seen, gw.url, 2)
    task = asyncio.create_task(streams(gw.url, "drain", 8))
    assert await asyncio.to_thread(wait_until, lambda: len(upstream.received("drain-a")) == 8)
    await asyncio.sleep(0.3)
    gw.proc.send_signal(signal.SIGTERM)
    outcomes = await task
    assert [o.kind for o in outcomes] == [ANSWERED] * 8, [o.detail for o in outcomes]
    assert await asyncio.to_thread(gw.proc.wait, 20) == 0
    assert not any(alive(pid) for pid in pids)
    out = gw.output()
    drained = [line for line in out.splitlines() if "shutting down:" in line]
    assert len(drained) == 2, out  # both workers drained, between them the 8 streams
    assert sum(int(line.split("shutting down: ")[1].split()[0]) for line in drained) == 8, out
    assert "all 2 workers stopped" in out


def test_sighup_and_a_file_change_reload_every_worker(upstream, gateway_for):
    gw = gateway_for(config(upstream, "hup-a", "hup"), "--workers", "2")
    pids_seen(gw.url, 2)
    gw.proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: gw.output().count("(SIGHUP)") == 2), gw.output()
    gw.config_path.write_text(json.dumps(config(upstream, "hup-a", "hup2")))  # each worker polls the file
    assert wait_until(lambda: gw.output().count("(file changed)") == 2), gw.output()
    assert {status_models(gw.url) for _ in range(20)} == {("hup2",)}


def status_models(url: str) -> tuple[str, ...]:
    with httpx.Client(timeout=5) as client:
        data = client.get(url + "/v1/models", headers={"Connection": "close"}).json()["data"]
    return tuple(m["id"] for m in data)


async def test_a_killed_worker_is_restarted_and_the_other_keeps_serving(upstream, gateway_for):
    upstream.on("crash-a", "crash", f.echo())
    gw = gateway_for(config(upstream, "crash-a", "crash"), "--workers", "2")
    old = await asyncio.to_thread(pids_seen, gw.url, 2)
    victim = min(old)
    os.kill(victim, signal.SIGKILL)
    outcomes = await streams(gw.url, "crash", 6)  # the other worker, and soon the new one, answer
    assert [o.kind for o in outcomes] == [ANSWERED] * 6, [o.detail for o in outcomes]
    assert await asyncio.to_thread(wait_until, lambda: "restarted: pid" in gw.output())
    out = gw.output()
    assert f"(pid {victim}) exited unexpectedly with signal SIGKILL" in out and "restarting in 0.5s" in out
    new = await asyncio.to_thread(pids_seen, gw.url, 2)
    assert len(new) == 2 and victim not in new and (old - {victim}) <= new
    assert out.count("API: http://localhost:") == 1  # a restart prints no second banner


def test_workers_exit_when_the_supervisor_is_killed(upstream, gateway_for):
    gw = gateway_for(config(upstream, "orphan-a", "orphan"), "--workers", "2")
    pids = pids_seen(gw.url, 2)
    gw.proc.kill()
    gw.proc.wait(5)
    assert wait_until(lambda: not any(alive(pid) for pid in pids), 15)


def test_bad_workers_value_and_bad_config_fail_once(upstream, gateway_for, tmp_path):
    from tests.gateway_proc import GatewayProcess

    gw = GatewayProcess(config(upstream, "x-a", "x"))
    done = gw.run_cli("--serve", "0", "--workers", "zero")
    assert done.returncode == 2 and "--workers: expected a whole number" in done.stderr
    gw.config_path.write_text('{"providers": {')
    done = gw.run_cli("--serve", str(gw.port), "--config", str(gw.config_path), "--workers", "2")
    assert done.returncode == 2 and done.stderr.count("bad config") == 1, done.stderr


def test_restart_backoff_doubles_up_to_30s_and_resets_after_a_stable_run():
    import socket

    from llms.workers import Supervisor

    class Dead:
        pid, returncode = 4242, -9

    with socket.socket() as sock:
        sup = Supervisor(["true"], sock, 1, {})
        slot = sup.slots[0]
        delays = []
        for _ in range(8):  # a worker that dies one second after each start
            slot.started = 100.0
            sup._exited(slot, Dead(), 101.0)  # type: ignore[arg-type]
            delays.append(slot.restart_at - 101.0)
        assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30]
        slot.started = 0.0
        sup._exited(slot, Dead(), 40.0)  # type: ignore[arg-type]  # it had run 40 s: a fresh crash
        assert slot.restart_at == 40.5


def requests_total(url: str) -> float:
    with httpx.Client(timeout=5) as client:
        text = client.get(url + "/metrics", headers={"Connection": "close"}).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith("llms_requests_total{"))


async def test_metrics_of_both_workers_are_merged_whichever_answers_the_scrape(upstream, gateway_for):
    upstream.on("met-a", "met", f.echo())
    gw = gateway_for(config(upstream, "met-a", "met"), "--workers", "2")
    await asyncio.to_thread(pids_seen, gw.url, 2)
    outcomes = await streams(gw.url, "met", 20)  # a new connection each: both workers serve some
    assert all(o.kind == ANSWERED for o in outcomes)
    # each worker publishes its share every second; every scrape, in either worker, sums both
    assert await asyncio.to_thread(wait_until, lambda: requests_total(gw.url) == 20, 10)
    assert {requests_total(gw.url) for _ in range(10)} == {20}
    env = Path(f"/proc/{status_pid(gw.url)}/environ").read_bytes().split(b"\0")
    [shared] = [Path(v.split(b"=", 1)[1].decode()) for v in env if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")]
    assert shared.is_dir() and any(shared.iterdir())
    assert gw.stop(timeout=20) == 0
    assert not shared.exists()  # the supervisor made it for this run and removed it
