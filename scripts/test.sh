#!/usr/bin/env bash
# The whole test suite on a fresh machine: makes .venv, installs the project with its test
# extras, installs the system packages the tests drive (when run as root with apt), runs pytest.
# Usage: ./scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# llama-cpp-python compiles from source (once; pip's wheel cache keeps it): a portable AVX2
# build (-march=native picks AMX here, which crashes in this VM) without the multimodal library.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF}"
.venv/bin/python -m pip install -q -e '.[test]'
for step in scripts/setup.d/*.sh; do
  [ -e "$step" ] || continue
  echo "== setup: $step"
  bash "$step"
done
echo "== lint"
.venv/bin/ruff check src tests
echo "== types"
.venv/bin/mypy  # src/llms, configured in pyproject.toml [tool.mypy]
echo "== tests"
exec .venv/bin/python -m pytest "$@"
