"""The Docker deployment as documented, built and run for real with podman: the image's
configuration, `docker run -p 8000:8000 -e GROQ_API_KEY=…`, a read-only custom `llms.json`
whose provider is a fake upstream on the host, `docker compose up -d`, the health check, the
non-root user, a clean SIGTERM stop, and no build secrets left in the image."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from openai import OpenAI

from ..fake_upstream import FakeUpstream, reply, stream
from ..gateway_proc import free_port
from . import podman as pm
from .conftest import BuiltImage

# `podman stop` waits this long after SIGTERM before SIGKILL: longer than the gateway's drain
# deadline (30 s by default), so exit code 0 means it stopped by itself.
STOP_GRACE = 45
PACKAGED_GROQ_MODEL = "kimi-k2"  # an alias the packaged llms.json serves with groq

# The docker commands the docs show; the tests below run these very lines (with podman).
DOCS = (pm.ROOT / "docs" / "docker.md", pm.ROOT / "README.md")
DOCUMENTED_BUILD = "docker build -t llms ."  # the `image` fixture: podman build -t TAG ROOT
DOCUMENTED_RUN = (
    "docker run -d -p 8000:8000 -e GROQ_API_KEY=... llms",
    'docker run -d -p 8000:8000 -v "$PWD/llms.json:/home/llms/.llms/llms.json:ro" -e GROQ_API_KEY=... llms',
)
DOCUMENTED_COMPOSE = "docker compose up -d"


def get_json(url: str) -> object:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        return json.loads(r.read())


def server_uid(c: pm.Container) -> str:
    status = c.exec("cat", "/proc/1/status").stdout
    return next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))


def assert_stops_cleanly(c: pm.Container, image: BuiltImage, name: str) -> None:
    code, took = c.stop(STOP_GRACE)
    image.timings[f"{name}: SIGTERM to exit"] = took
    logs = c.logs()
    assert code == 0, f"exit code {code} after SIGTERM:\n{logs}"
    assert "Traceback" not in logs, logs


def test_image_configuration(image: BuiltImage) -> None:
    info = json.loads(pm.podman("image", "inspect", image.tag).stdout)[0]
    config = info["Config"]
    assert config["User"] == "1000:1000"
    assert "8000/tcp" in config["ExposedPorts"]
    assert "/home/llms/.llms" in config["Volumes"]
    assert config["Cmd"] == ["llms", "--serve", "8000", "--host", "0.0.0.0"]
    env = dict(item.split("=", 1) for item in config["Env"])
    assert env["HOME"] == "/home/llms"
    assert env["PATH"].startswith("/opt/llms/bin:")
    # (not any *KEY*: the official python images set GPG_KEY, a public key id)
    leaked = [k for k in env if re.search(r"^PIP_|_API_KEY$|TOKEN|SECRET|PASSWORD", k)]
    assert not leaked, f"the image's environment carries {leaked}"
    check = info["Healthcheck"]["Test"]
    assert check[:2] == ["CMD", "python3"] and "urllib.request" in check[-1] and "/health" in check[-1]


def test_no_build_secrets_or_pip_config_in_image(image: BuiltImage, tmp_path: Path) -> None:
    """Every layer of the saved image, file by file: no pip configuration, no /run/secrets, and
    nowhere the marker written into the pip config and CA bundle given to the build."""
    history = pm.podman("history", "--no-trunc", "--format", "json", image.tag).stdout
    assert image.marker not in history and "BEGIN CERTIFICATE" not in history
    layers, found = pm.scan_layers(image.tag, image.marker, tmp_path / "image.tar")
    assert layers >= 2
    assert not found, f"build secrets or pip configuration in the image: {found}"


def documented_docker_lines() -> list[str]:
    """Every line starting with `docker ` in the ```sh blocks of docs/docker.md and README.md."""
    lines = []
    for path in DOCS:
        if path.exists():
            for block in re.findall(r"```sh\n(.*?)```", path.read_text(), flags=re.S):
                lines += [line.strip() for line in block.splitlines() if line.strip().startswith("docker ")]
    return lines


def test_documented_docker_commands_are_the_tested_ones() -> None:
    lines = documented_docker_lines()
    assert {DOCUMENTED_BUILD, DOCUMENTED_RUN[0], DOCUMENTED_COMPOSE} <= set(lines)
    untested = [line for line in lines if line not in {DOCUMENTED_BUILD, *DOCUMENTED_RUN, DOCUMENTED_COMPOSE}]
    assert not untested, f"documented but not run by this test: {untested}"


def podman_run_args(line: str, host_port: int, cwd: Path) -> list[str]:
    """A documented `docker run -d … llms` line as podman run options: the host port is a free
    one instead of 8000 and `$PWD` is `cwd`; the image name is left off."""
    words = shlex.split(line.replace("$PWD", str(cwd)))
    assert words[:3] == ["docker", "run", "-d"] and words[-1] == "llms", line
    return [f"{host_port}:8000" if w == "8000:8000" else w for w in words[3:-1]]


@pytest.mark.parametrize("line", DOCUMENTED_RUN, ids=["packaged-config", "own-llms-json"])
def test_documented_docker_run(image: BuiltImage, line: str, tmp_path: Path) -> None:
    """The documented `docker run` lines, as written but for the port and the image name."""
    own = {
        "providers": {
            "groq": {
                "type": "OpenAiProvider",
                "base_url": "https://api.groq.com/openai",
                "api_key": "$GROQ_API_KEY",
                "models": {"docs-model": "llama-3.1-8b-instant"},
            }
        }
    }
    (tmp_path / "llms.json").write_text(json.dumps(own))
    uses_own = "llms.json" in line
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with pm.Container(image.tag, *podman_run_args(line, port, tmp_path)) as c:
        c.wait_healthy_http(url + "/health")
        assert get_json(url + "/health") == {"status": "ok"}
        served = {m["id"]: m["owned_by"] for m in get_json(url + "/v1/models")["data"]}  # type: ignore[index]
        model = "docs-model" if uses_own else PACKAGED_GROQ_MODEL
        assert served.get(model) == "groq", "GROQ_API_KEY from the environment did not enable groq"
        states = {p["name"]: p["state"] for p in get_json(url + "/status")["providers"]}  # type: ignore[index]
        assert states["groq"] == "enabled"
        check = pm.podman("healthcheck", "run", c.id, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert server_uid(c) == "1000"
        cmdline = c.exec("cat", "/proc/1/cmdline").stdout.replace("\0", " ")
        assert "llms --serve 8000 --host 0.0.0.0" in cmdline
        assert c.exec("touch", "/home/llms/.llms/probe").returncode == 0, "the data volume is not writable by llms"
        if uses_own:
            assert c.exec("sh", "-c", "echo >> /home/llms/.llms/llms.json").returncode != 0, "llms.json is writable"
        assert_stops_cleanly(c, image, "docker run" + (" with own llms.json" if uses_own else ""))
        logs = c.logs()
    source = "/home/llms/.llms/llms.json" if uses_own else "packaged default llms.json"
    assert f"config {source}" in logs, logs


def test_custom_config_read_only_streams_through_the_container(
    image: BuiltImage, upstream: FakeUpstream, tmp_path: Path
) -> None:
    """A read-only `llms.json` whose provider is the fake upstream on the host (host network),
    its key from `-e`, VERBOSE=1: the OpenAI SDK streams a completion through the container."""
    config = {
        "providers": {
            "fake": {
                "type": "OpenAiProvider",
                "base_url": upstream.base_url("container"),
                "api_key": "$TEST_UPSTREAM_KEY",
                "models": {"box": "fake-box"},
            }
        }
    }
    config_file = tmp_path / "llms.json"
    config_file.write_text(json.dumps(config, indent=2))
    config_file.chmod(0o444)
    before = config_file.read_bytes()
    upstream.on("container", "fake-box", stream(["Con", "tain", "er", "!"]))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    run_args = [
        "--network=host",
        "-v",
        f"{config_file}:/home/llms/.llms/llms.json:ro",
        "-e",
        "TEST_UPSTREAM_KEY=sk-container-test",
        "-e",
        "VERBOSE=1",
        "-e",
        f"LLMS_PORT={port}",
    ]
    command = ["llms", "--serve", str(port), "--host", "127.0.0.1"]
    with pm.Container(image.tag, *run_args, command=command) as c:
        c.wait_healthy_http(url + "/health")
        client = OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        events = client.chat.completions.create(model="box", messages=[{"role": "user", "content": "hi"}], stream=True)
        text = "".join(e.choices[0].delta.content or "" for e in events if e.choices)
        assert text == "Container!"
        upstream.on("container", "fake-box", reply("Plain answer"))
        answer = client.chat.completions.create(model="box", messages=[{"role": "user", "content": "again"}])
        assert answer.choices[0].message.content == "Plain answer"
        calls = upstream.received("container")
        assert [call.body["model"] for call in calls] == ["fake-box", "fake-box"]
        assert all(call.headers.get("Authorization") == "Bearer sk-container-test" for call in calls)
        check = pm.podman("healthcheck", "run", c.id, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert server_uid(c) == "1000"
        # SIGTERM while a stream is in flight: it finishes, then the server exits 0 by itself.
        upstream.on("container", "fake-box", stream(["one ", "two ", "three ", "four"], delay=0.4))
        slow = client.chat.completions.create(model="box", messages=[{"role": "user", "content": "slow"}], stream=True)
        pieces: list[str] = []
        for event in slow:
            if event.choices and event.choices[0].delta.content:
                if not pieces:
                    pm.podman("kill", "--signal", "TERM", c.id)
                    signalled = time.monotonic()
                pieces.append(event.choices[0].delta.content)
        assert "".join(pieces) == "one two three four"
        code = pm.podman("wait", c.id, timeout=STOP_GRACE).stdout.strip()
        image.timings["custom llms.json: SIGTERM mid-stream to exit"] = time.monotonic() - signalled
        logs = c.logs()
        assert code == "0", f"exit code {code} after SIGTERM:\n{logs}"
    assert "config /home/llms/.llms/llms.json" in logs
    assert logs.count("model=box") == 3, f"VERBOSE=1 did not log one line per request:\n{logs}"
    assert "Traceback" not in logs, logs
    assert "sk-container-test" not in logs
    assert config_file.read_bytes() == before


@pytest.mark.skipif(shutil.which("podman-compose") is None, reason="podman-compose is not installed")
def test_documented_compose_up(image: BuiltImage, tmp_path: Path) -> None:
    """`docker compose up -d` with the project's docker-compose.yml (podman-compose), on the
    image built above, a free host port and its own project name; then `down -v`."""
    project = "llmsci" + image.tag.rsplit(":", 1)[1]
    port = free_port()
    env = {
        **pm.env(),
        "LLMS_IMAGE": image.tag,
        "LLMS_HOST_PORT": str(port),
        "GROQ_API_KEY": "gsk-compose-test-not-real",
    }
    compose = ["podman-compose", "-f", str(pm.ROOT / "docker-compose.yml"), "-p", project]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*compose, *args], env=env, capture_output=True, text=True, timeout=300)

    ids: list[str] = []
    try:
        # builds only when the image is missing; the fixture built it
        up = run(*shlex.split(DOCUMENTED_COMPOSE)[2:])
        assert up.returncode == 0, up.stdout + up.stderr
        ids = pm.podman("ps", "-aq", "--filter", f"label=io.podman.compose.project={project}").stdout.split()
        assert len(ids) == 1, up.stdout + up.stderr
        c = pm.Container(image.tag)
        c.id = ids[0]
        c.wait_healthy_http(f"http://127.0.0.1:{port}/health")
        served = {m["id"] for m in get_json(f"http://127.0.0.1:{port}/v1/models")["data"]}  # type: ignore[index]
        assert PACKAGED_GROQ_MODEL in served
        info = c.inspect()
        mounts = {m["Destination"]: m for m in info["Mounts"]}
        assert mounts["/home/llms/.llms"]["Name"] == f"{project}_llms-data"
        assert info["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        check = pm.podman("healthcheck", "run", c.id, check=False)
        assert check.returncode == 0, check.stdout + check.stderr
        assert server_uid(c) == "1000"
        assert c.exec("touch", "/home/llms/.llms/probe").returncode == 0
        assert_stops_cleanly(c, image, "compose")
    finally:
        run("down", "-v")
        # podman-compose 1.0 leaves the project's network (and, after a failed `up`, more) behind.
        pm.podman("rm", "-f", "-v", "-t", "0", *ids, check=False)
        pm.podman("volume", "rm", "-f", f"{project}_llms-data", check=False)
        pm.podman("network", "rm", "-f", f"{project}_default", check=False)
