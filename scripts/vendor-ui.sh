#!/usr/bin/env bash
# Re-creates src/llms/ui/vendor/ from the npm registry: the exact versions below, their
# licences, nothing else. Run it after changing a version; commit the result.
# Usage: ./scripts/vendor-ui.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MARKED=18.2.1
DOMPURIFY=3.4.18
HLJS=11.12.0
UPLOT=1.6.32
out=src/llms/ui/vendor
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "marked@$MARKED" "dompurify@$DOMPURIFY" "@highlightjs/cdn-assets@$HLJS" \
  "uplot@$UPLOT" >/dev/null)
for f in "$tmp"/*.tgz; do mkdir -p "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
rm -rf "$out" && mkdir -p "$out/marked" "$out/dompurify" "$out/highlight" "$out/uplot"
# Source-map comments are dropped: the maps are not shipped, and nothing should ask for them.
strip() { sed '/^\/\/# sourceMappingURL=/d' "$1" >"$2"; }
strip "$tmp/marked-$MARKED/package/lib/marked.esm.js" "$out/marked/marked.esm.js"
cp "$tmp/marked-$MARKED/package/LICENSE" "$out/marked/LICENSE"
strip "$tmp/dompurify-$DOMPURIFY/package/dist/purify.es.mjs" "$out/dompurify/purify.es.js"
cp "$tmp/dompurify-$DOMPURIFY/package/LICENSE" "$out/dompurify/LICENSE"
# highlight.js's ES build with its "common" languages (about 40: python, js, ts, go, rust, sql, …).
strip "$tmp/highlightjs-cdn-assets-$HLJS/package/es/highlight.min.js" "$out/highlight/highlight.min.js"
cp "$tmp/highlightjs-cdn-assets-$HLJS/package/LICENSE" "$out/highlight/LICENSE"
# uPlot's ES build (the analytics page's charts: canvas, no dependencies) and its stylesheet.
strip "$tmp/uplot-$UPLOT/package/dist/uPlot.esm.js" "$out/uplot/uPlot.esm.js"
cp "$tmp/uplot-$UPLOT/package/dist/uPlot.min.css" "$out/uplot/uPlot.min.css"
cp "$tmp/uplot-$UPLOT/package/LICENSE" "$out/uplot/LICENSE"
cat >"$out/VERSIONS" <<VERSIONS
marked $MARKED (MIT) lib/marked.esm.js
dompurify $DOMPURIFY (MPL-2.0 OR Apache-2.0) dist/purify.es.mjs
@highlightjs/cdn-assets $HLJS (BSD-3-Clause) es/highlight.min.js
uplot $UPLOT (MIT) dist/uPlot.esm.js, dist/uPlot.min.css
Made by scripts/vendor-ui.sh from the npm registry.
VERSIONS
echo "vendored into $out:" && cat "$out/VERSIONS"
