# The llms gateway as a small non-root image: a build stage makes the wheel and installs it with
# its dependencies into a venv at /opt/llms; the runtime stage copies only that venv.
#
#   docker build -t llms .
#   docker run -d -p 8000:8000 -e GROQ_API_KEY=... llms
#
# BASE_IMAGE may be any Debian-like image with python3 >= 3.11 and its venv module
# (the CI test uses a local debootstrap image). Both stages use it, so the venv's
# interpreter path is the same in both.
#
# A private package index or an intercepting proxy's CA certificate reaches pip at build time
# only, as optional build secrets that are never stored in a layer:
#   docker build --secret id=pip_conf,src=pip.conf --secret id=pip_ca,src=ca.pem -t llms .
# `RUN --mount` needs BuildKit (Docker >= 23 uses it by default) or podman/buildah; with podman,
# build with `--format docker` to keep the HEALTHCHECK, which OCI images drop.

ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
# /opt/build holds the build backend; /opt/llms is what ships.
RUN python3 -m venv /opt/build && python3 -m venv /opt/llms
# Dependencies first, read from pyproject.toml alone, so this layer is reused until they change
# and the wheel build below is offline.
COPY pyproject.toml /src/
RUN --mount=type=secret,id=pip_conf --mount=type=secret,id=pip_ca \
    set -eu; \
    if [ -s /run/secrets/pip_conf ]; then export PIP_CONFIG_FILE=/run/secrets/pip_conf; fi; \
    if [ -s /run/secrets/pip_ca ]; then export PIP_CERT=/run/secrets/pip_ca; fi; \
    python3 -c 'import tomllib; p = tomllib.load(open("/src/pyproject.toml", "rb")); \
print("\n".join(p["project"]["dependencies"]), file=open("/tmp/run.txt", "w")); \
print("\n".join(p["build-system"]["requires"]), file=open("/tmp/build.txt", "w"))'; \
    /opt/build/bin/pip install -q -r /tmp/build.txt wheel; \
    /opt/llms/bin/pip install -q -r /tmp/run.txt
COPY . /src/
RUN set -eu; \
    /opt/build/bin/pip wheel -q --no-deps --no-build-isolation --wheel-dir /wheels /src; \
    /opt/llms/bin/pip install -q --no-deps --no-index /wheels/*.whl; \
    /opt/llms/bin/pip uninstall -q -y pip setuptools; \
    /opt/llms/bin/python -c 'import llms.app, llms.cli'

FROM ${BASE_IMAGE}
RUN groupadd --gid 1000 llms \
    && useradd --no-log-init --uid 1000 --gid 1000 --home-dir /home/llms --create-home --shell /usr/sbin/nologin llms \
    && mkdir -p /home/llms/.llms \
    && chown -R 1000:1000 /home/llms
COPY --from=build /opt/llms /opt/llms
# LLMS_PORT is the port the health check calls: set it too when a command serves another port.
ENV PATH=/opt/llms/bin:$PATH \
    HOME=/home/llms \
    LLMS_PORT=8000 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 1000:1000
WORKDIR /home/llms
VOLUME /home/llms/.llms
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LLMS_PORT', '8000') + '/health', timeout=4)"]
STOPSIGNAL SIGTERM
CMD ["llms", "--serve", "8000", "--host", "0.0.0.0"]
