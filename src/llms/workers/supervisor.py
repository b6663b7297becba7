"""The `--workers N` supervisor: starts N worker processes on the inherited listening socket,
forwards signals to them, and restarts one that dies unexpectedly.

- SIGTERM/SIGINT: forwarded once to every worker (each drains as a single process would:
  readiness 503, `shutdown.delay`, `shutdown.grace`); no more restarts; the supervisor exits 0
  when every worker exited 0, else 1. A second signal is forwarded too (workers stop at once).
- SIGHUP: forwarded, so every worker reloads `llms.json`. A file change needs no signal: each
  worker polls the file itself.
- A worker that exits on its own is logged and restarted after a backoff (0.5 s doubling up to
  30 s; back to 0.5 s once a worker has run for 30 s), so a worker that crashes at start does
  not spin the CPU.
Workers run in their own process group: a Ctrl-C in the terminal reaches the supervisor alone,
which forwards one SIGTERM (the terminal's SIGINT reaching them too would count as a second
signal and cut the drain short). A worker whose supervisor is killed drains and exits by itself
(`llms.app._orphaned`).

Metrics hook: prometheus-client's multiprocess mode needs one directory shared by all workers,
empty at start. `metrics_dir()` sets PROMETHEUS_MULTIPROC_DIR to a fresh temp dir for the
workers (unless the operator set one) and removes it on exit; the supervisor tells
prometheus-client when a worker died (`mark_process_dead`), as its docs ask for gunicorn."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType

log = logging.getLogger("llms.workers")

BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0  # a worker that ran this long resets its backoff
POLL = 0.1  # seconds between looks at the workers (a restart waits at least this long)


@contextlib.contextmanager
def metrics_dir() -> Iterator[dict[str, str]]:
    """The workers' environment, with PROMETHEUS_MULTIPROC_DIR set to a fresh directory that is
    removed on exit (an operator's own setting is kept and left alone)."""
    env = dict(os.environ)
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        yield env
        return
    path = tempfile.mkdtemp(prefix="llms-metrics-")
    env["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield env
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _mark_dead(pid: int, env: dict[str, str]) -> None:
    """prometheus-client keeps a dead worker's live gauges unless told (only when it is used)."""
    path = env.get("PROMETHEUS_MULTIPROC_DIR")
    if not path or not os.path.isdir(path) or not any(name.endswith(".db") for name in os.listdir(path)):
        return
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    multiprocess.mark_process_dead(pid, path)


@dataclass(slots=True)
class _Slot:
    """One worker position (index 0…N-1) and the process currently filling it."""

    index: int
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    failures: int = 0
    restart_at: float | None = None


class Supervisor:
    def __init__(self, command: list[str], sock: socket.socket, count: int, env: dict[str, str]) -> None:
        self.command = command  # the worker command line, less `--index` and `--banner`
        self.sock = sock
        self.slots = [_Slot(i) for i in range(count)]
        self.env = env
        # The signal handlers only count; the loop acts on the counts. Acting inside a handler
        # could race with a spawn in progress (a new worker that misses the SIGTERM, a closed
        # socket handed to Popen).
        self.stopping = 0  # stop signals received
        self.stops_sent = 0  # … and forwarded
        self.hups = self.hups_sent = 0
        self.signal_name = ""
        self.codes: list[int] = []  # exit codes of the workers that ended after the stop

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)
        for slot in self.slots:
            self._spawn(slot, banner=slot.index == 0)
        log.info("supervisor %d: %d workers", os.getpid(), len(self.slots))
        while self.stopping == 0 or any(s.proc is not None for s in self.slots):
            self._reap()
            self._act_on_signals()
            time.sleep(POLL)
        log.warning("all %d workers stopped", len(self.slots))
        return 0 if all(code == 0 for code in self.codes) else 1

    def pids(self) -> list[int]:
        return [s.proc.pid for s in self.slots if s.proc is not None]

    def _spawn(self, slot: _Slot, banner: bool = False) -> int:
        argv = [*self.command, "--index", str(slot.index), *(["--banner"] if banner else [])]
        slot.proc = subprocess.Popen(argv, env=self.env, pass_fds=(self.sock.fileno(),), process_group=0)
        slot.started, slot.restart_at = time.monotonic(), None
        return slot.proc.pid

    def _reap(self) -> None:
        now = time.monotonic()
        for slot in self.slots:
            if slot.proc is not None and slot.proc.poll() is not None:
                self._exited(slot, slot.proc, now)
            elif slot.proc is None and slot.restart_at is not None and now >= slot.restart_at and not self.stopping:
                log.warning("worker %d restarted: pid %d", slot.index, self._spawn(slot))

    def _exited(self, slot: _Slot, proc: subprocess.Popen[bytes], now: float) -> None:
        slot.proc = None
        code = proc.returncode
        _mark_dead(proc.pid, self.env)
        if self.stopping:
            self.codes.append(code)
            return
        ran = now - slot.started
        if ran >= STABLE_AFTER:
            slot.failures = 0
        delay = min(BACKOFF_FIRST * 2**slot.failures, BACKOFF_MAX)
        slot.failures += 1
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"code {code}"
        log.warning(
            "worker %d (pid %d) exited unexpectedly with %s after %.1fs; restarting in %.1fs",
            slot.index,
            proc.pid,
            how,
            ran,
            delay,
        )
        slot.restart_at = now + delay

    def _forward(self, sig: int) -> None:
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def _act_on_signals(self) -> None:
        if self.stopping > self.stops_sent:
            if self.stops_sent == 0:
                log.warning("supervisor: %s, draining %d workers", self.signal_name, len(self.pids()))
                self.sock.close()  # ours: once the workers close theirs, the port refuses connections
            self.stops_sent = self.stopping
            self._forward(signal.SIGTERM)  # a second one: the workers stop at once
        if self.hups > self.hups_sent and not self.stopping:
            self.hups_sent = self.hups
            log.warning("supervisor: SIGHUP, reloading %d workers", len(self.pids()))
            self._forward(signal.SIGHUP)

    def _on_stop(self, signum: int, frame: FrameType | None) -> None:
        self.signal_name = self.signal_name or signal.Signals(signum).name
        self.stopping += 1

    def _on_hup(self, signum: int, frame: FrameType | None) -> None:
        self.hups += 1
