#!/usr/bin/env bash
# Claude Code and Codex from npm, for the headless agent tests (tests/apis/test_agent_clis.py):
# installed into ~/.cache/llms-test-clis (pinned; each ships its own binary in its npm package).
# Without npm, or offline, those two tests skip and say why.
set -euo pipefail
dir="${LLMS_TEST_CLIS:-$HOME/.cache/llms-test-clis}"
if [ -x "$dir/node_modules/.bin/claude" ] && [ -x "$dir/node_modules/.bin/codex" ]; then
  echo "agent CLIs: present"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "agent CLIs: no npm; the Claude Code and Codex tests will skip"
  exit 0
fi
mkdir -p "$dir"
npm install --prefix "$dir" --no-audit --no-fund --loglevel=error \
  @anthropic-ai/claude-code@2.1.197 @openai/codex@0.171.0 >/dev/null 2>&1 \
  || echo "agent CLIs: npm install failed; the Claude Code and Codex tests will skip"
