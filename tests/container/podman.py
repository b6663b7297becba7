"""podman for the container test: the configuration this kind of host needs, a Debian base image
made with debootstrap (no container registry is reachable) and cached outside the clone, the
host's pip index and CA certificate handed to `podman build` as build secrets, and running
containers that are always removed."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS_CONF = ROOT / "docker" / "containers.conf"
CACHE = Path(os.environ.get("LLMS_CI_CACHE", "/var/cache/llms-ci"))
# Explicit, because this host refuses podman's default rlimits (see docker/containers.conf).
ULIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]

SUITE = "bookworm"
MIRROR = os.environ.get("LLMS_CI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Trimmed from the rootfs: an image needs none of it.
TRIM = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man", "usr/share/locale")
RECIPE = f"debootstrap --variant=minbase --include={','.join(PACKAGES)} {SUITE} {MIRROR} trim={','.join(TRIM)}"


def env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), "BUILDAH_ISOLATION": "chroot"}


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["podman", *args], env=env(), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def unavailable() -> str | None:
    """Why podman cannot run containers here, or None when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/setup.d/30-podman.sh installs it when run as root with apt)"
    try:
        podman("info", "--format", "{{.Host.OCIRuntime.Name}}", timeout=60)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        return f"podman cannot run here: {e}"
    return None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """One CI run at a time builds the cached base; the others wait and reuse it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


TEST_REPOSITORY = "localhost/llms-test"


def remove_stale_test_images(older_than: str = "3h") -> None:
    """Images (and their containers) a killed test session left behind; younger ones may
    belong to a session running right now."""
    ids = podman(
        "images", "-q", "--filter", f"reference={TEST_REPOSITORY}", "--filter", f"until={older_than}", check=False
    ).stdout.split()
    if ids:
        podman("rmi", "-f", *sorted(set(ids)), check=False)


def base_image() -> tuple[str, str]:
    """The local Debian base image, tagged by a hash of its recipe so a changed recipe makes a
    new one. Reused from podman's storage, else imported from the cached rootfs tarball, else
    built with debootstrap. Returns the tag and how it was obtained."""
    digest = hashlib.sha256(RECIPE.encode()).hexdigest()[:12]
    tag = f"localhost/llms-ci-base:{SUITE}-{digest}"
    tarball = CACHE / f"base-{SUITE}-{digest}.tar"
    with locked(CACHE / "base.lock"):
        if podman("image", "exists", tag, check=False).returncode == 0:
            return tag, "reused from podman storage"
        how = f"imported from {tarball}"
        if not tarball.exists():
            build_rootfs_tarball(tarball)
            how = f"built with debootstrap into {tarball}"
            for old in CACHE.glob("base-*.tar"):  # earlier recipes
                if old != tarball:
                    old.unlink()
        podman("import", "--change", 'CMD ["python3"]', str(tarball), tag, timeout=600)
        for old in podman("images", "--format", "{{.Repository}}:{{.Tag}}", tag.split(":")[0]).stdout.split():
            if old != tag:
                podman("rmi", old, check=False)
    return tag, how


def build_rootfs_tarball(tarball: Path) -> None:
    if shutil.which("debootstrap") is None:
        raise RuntimeError("debootstrap is not installed (scripts/setup.d/30-podman.sh installs it)")
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=tarball.parent))
    try:
        rootfs = work / "rootfs"
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(rootfs), MIRROR]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-4000:]}\n{proc.stderr}")
        for rel in TRIM:
            for child in (rootfs / rel).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = work / "rootfs.tar"
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        os.replace(partial, tarball)  # never a half-written cache entry
    finally:
        shutil.rmtree(work, ignore_errors=True)


def host_pip_settings() -> dict[str, str]:
    """The host pip's index and CA settings (environment first), e.g. {"index-url": …, "cert": …}."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        key, _, value = line.partition("=")
        scope, _, name = key.rpartition(".")
        if name in ("index-url", "extra-index-url", "trusted-host", "cert") and (scope == ":env:" or name not in found):
            found[name] = value.strip().strip("'\"")
    if "cert" not in found:
        for var in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
            if os.environ.get(var):
                found["cert"] = os.environ[var]
                break
    return found


def pip_secrets(folder: Path, marker: str) -> list[str]:
    """`--secret` arguments giving the build the host's package index and CA bundle. Both files
    carry `marker`, so the test can prove that neither ends up in the image. Local `file://`
    indexes are host paths a build cannot see, so they are left out."""
    settings = host_pip_settings()
    lines = ["[global]", f"# {marker}"]
    index = settings.get("index-url", "")
    if index.startswith(("http://", "https://")):
        lines.append(f"index-url = {index}")
    extra = [u for u in settings.get("extra-index-url", "").split() if u.startswith(("http://", "https://"))]
    if extra:
        lines.append(f"extra-index-url = {' '.join(extra)}")
    if settings.get("trusted-host"):
        lines.append(f"trusted-host = {settings['trusted-host']}")
    args = []
    cert = Path(settings.get("cert", ""))
    if settings.get("cert") and cert.is_file():
        ca = folder / "pip-ca.pem"
        ca.write_text(f"# {marker}\n" + cert.read_text())  # text outside PEM blocks is ignored
        lines.append("cert = /run/secrets/pip_ca")
        args += ["--secret", f"id=pip_ca,src={ca}"]
    conf = folder / "pip.conf"
    conf.write_text("\n".join(lines) + "\n")
    return [*args, "--secret", f"id=pip_conf,src={conf}"]


def build_image(tag: str, base: str, secrets: list[str]) -> None:
    """The project's own Dockerfile, as a user builds it, with BASE_IMAGE pointing at `base`.
    `--format docker` keeps the HEALTHCHECK; `--layers=false` leaves no intermediate images
    behind on the CI host."""
    podman(
        "build",
        "--format",
        "docker",
        "--layers=false",
        "--network=host",
        "--isolation=chroot",
        *ULIMITS,
        "--build-arg",
        f"BASE_IMAGE={base}",
        *secrets,
        "-f",
        str(ROOT / "Dockerfile"),
        "-t",
        tag,
        str(ROOT),
        timeout=1200,
    )


# Where pip looks for configuration; none of it may be in the image.
PIP_CONFIG_PATHS = ("etc/pip.conf", "etc/xdg/pip/", "root/.config/pip/", "root/.pip/", "home/llms/.config/pip/")


def scan_layers(tag: str, marker: str, archive: Path) -> tuple[int, list[str]]:
    """Save the image and read every file of every layer (also files a later layer deletes).
    Returns the number of layers and what should not be there: pip configuration, anything
    under /run/secrets, any file containing `marker`."""
    podman("save", "--format", "docker-archive", "-o", str(archive), tag, timeout=600)
    needle = marker.encode()
    found: list[str] = []
    layers = 0
    try:
        with tarfile.open(archive) as outer:
            for member in outer:
                if not member.name.endswith(".tar"):
                    continue
                layers += 1
                with tarfile.open(fileobj=outer.extractfile(member), mode="r|") as layer:
                    for entry in layer:
                        name = entry.name.removeprefix("./")
                        if name.startswith(PIP_CONFIG_PATHS) or name.endswith("/pip.conf") or "run/secrets/" in name:
                            found.append(name)
                        if entry.isfile():
                            data = layer.extractfile(entry)
                            if data is not None and needle in data.read():
                                found.append(f"{name} (contains the build-secret marker)")
    finally:
        archive.unlink(missing_ok=True)
    return layers, found


def image_size(tag: str) -> int:
    return int(json.loads(podman("image", "inspect", tag).stdout)[0]["Size"])


class Container:
    """A detached container that is removed when the `with` block ends."""

    def __init__(self, image: str, *run_args: str, command: list[str] | None = None) -> None:
        self.image = image
        self.run_args = list(run_args)
        self.command = command or []
        self.id = ""

    def __enter__(self) -> Container:
        self.id = podman("run", "-d", *ULIMITS, *self.run_args, self.image, *self.command).stdout.strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.id:
            podman("rm", "-f", "-v", "-t", "0", self.id, check=False)  # -v: its anonymous volume too

    def inspect(self) -> dict:
        return json.loads(podman("container", "inspect", self.id).stdout)[0]

    def logs(self) -> str:
        proc = podman("logs", self.id, check=False)
        return proc.stdout + proc.stderr

    def exec(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.id, *cmd, check=False)

    def wait_healthy_http(self, url: str, timeout: float = 60) -> None:
        """Until `url` answers 200; fails early with the logs when the container has exited."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.inspect()["State"]["Running"]:
                raise RuntimeError(f"container exited:\n{self.logs()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer within {timeout}s:\n{self.logs()}")

    def stop(self, grace: int) -> tuple[int, float]:
        """SIGTERM (the image's STOPSIGNAL), SIGKILL after `grace` seconds. Returns the exit
        code and the seconds it took."""
        start = time.monotonic()
        podman("stop", "-t", str(grace), self.id, timeout=grace + 60)
        took = time.monotonic() - start
        return int(self.inspect()["State"]["ExitCode"]), took
