"""The image under test, built once per session from the project's Dockerfile on the cached
Debian base, and removed afterwards. How long each step took is printed in the summary."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from . import podman as pm


@dataclass
class BuiltImage:
    tag: str
    base: str
    marker: str  # written into the pip config and CA bundle passed as build secrets
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


_report: list[str] = []


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BuiltImage]:
    reason = pm.unavailable()
    if reason:
        pytest.skip(reason)
    pm.remove_stale_test_images()
    start = time.monotonic()
    base, how = pm.base_image()
    built = BuiltImage(f"{pm.TEST_REPOSITORY}:{uuid.uuid4().hex[:12]}", base, f"llms-ci-marker-{uuid.uuid4().hex}")
    built.timings["base image"] = time.monotonic() - start
    built.notes.append(f"base image {base}: {how}")
    secrets = pm.pip_secrets(tmp_path_factory.mktemp("pip-secrets"), built.marker)
    start = time.monotonic()
    pm.build_image(built.tag, base, secrets)
    built.timings["image build"] = time.monotonic() - start
    built.notes.append(f"image size {pm.image_size(built.tag) / 1e6:.0f} MB")
    try:
        yield built
    finally:
        pm.podman("rmi", "-f", built.tag, check=False)
        _report.extend(built.notes)
        _report.extend(f"{name}: {seconds:.1f}s" for name, seconds in built.timings.items())


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _report:
        terminalreporter.write_sep("-", "container test")
        for line in _report:
            terminalreporter.write_line(line)
