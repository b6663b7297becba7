"""The architecture stays true: nothing imports upward (../shared/STYLE.md), only the
composition root (`llms.app`, `llms.services`, `llms.observability`) imports `llms.config` and the storage backends,
the stream driver knows no wire format, no request-scoped string keys, and importing the
provider registry imports no dialect."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "llms"

# what each layer may import of ours (besides itself)
ALLOWED = {
    "core": set(),
    "transport": {"core"},
    "providers": {"core", "transport"},
    "router": {"core", "providers"},
    "server": {"core", "router"},
    "config": {"core"},
    "usage": {"core"},
    "keys": {"core", "usage"},
    "observe": {"core", "usage"},
    "observability": {"core", "router", "server", "config", "usage", "observe"},
    "services": {"core", "server", "config", "usage", "keys", "observability"},
    "app": {"core", "transport", "providers", "router", "server", "config", "usage", "services", "keys", "observe",
            "observability", "__init__"},  # fmt: skip
    "cli": {"app", "core", "workers", "__init__"},  # core is imported by all (STYLE.md)
    "workers": {"app", "core"},  # the --workers supervisor starts `llms.app` in each worker
    "__main__": {"cli"},
    "__init__": set(),
    "data": set(),
    "ui": set(),
}


def layer_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def imported_layers(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    pkg = path.relative_to(SRC).parts[:-1]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(pkg[: len(pkg) - node.level + 1])
                target = base + (node.module.split(".") if node.module else [])
                if not target:  # `from .. import x` at the top: x is the layer
                    found.update(a.name for a in node.names)
                else:
                    found.add(target[0])
            elif node.module and node.module.startswith("llms"):
                parts = node.module.split(".")
                found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("llms."):
                    found.add(a.name.split(".")[1])
    return found


def test_no_upward_imports():
    problems = []
    for path in SRC.rglob("*.py"):
        layer = layer_of(path)
        if layer not in ALLOWED:
            problems.append(f"{path.relative_to(SRC)}: unknown layer {layer!r}: add it to ALLOWED")
            continue
        bad = imported_layers(path) - ALLOWED[layer] - {layer}
        bad = {b for b in bad if (SRC / b).is_dir() or (SRC / f"{b}.py").exists()}
        if bad:
            problems.append(f"{path.relative_to(SRC)} ({layer}) imports {sorted(bad)}")
    assert problems == []


def test_registry_import_has_no_side_effects():
    code = "import sys, llms.providers as p; print(sorted(m for m in sys.modules if m.startswith('llms.providers.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['llms.providers.base']"


def _modules_imported(path: Path) -> set[str]:
    """Dotted names of what `path` imports (relative imports resolved)."""
    pkg = ["llms", *path.relative_to(SRC).parts[:-1]]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = pkg[: len(pkg) - node.level + 1] if node.level else []
            mod = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(mod)
            found.update(f"{mod}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_only_the_composition_root_picks_storage_and_config():
    """`config` and the storage backends (the ledger's sinks, the key store and limiter) are
    chosen at the edge (app, services, observability) and handed down."""
    roots = {SRC / "app.py", SRC / "services.py", SRC / "observability.py"}
    edge = ("llms.config", "llms.usage.sqlite", "llms.usage.postgres", "llms.keys")
    problems = [
        f"{path.relative_to(SRC)} imports {mod}"
        for path in SRC.rglob("*.py")
        if path not in roots and layer_of(path) not in ("config", "usage", "keys")
        for mod in _modules_imported(path)
        if mod.startswith(edge)
    ]
    assert problems == []


def test_the_stream_driver_knows_no_wire_format():
    """server/driver.py gets its frames from a codec; it imports none, nor a JSON library."""
    imported = _modules_imported(SRC / "server" / "driver.py")
    assert not {m for m in imported if m.startswith(("llms.server.openai_chat", "orjson", "json"))}


def test_no_request_scoped_string_keys():
    """Request-scoped data lives on the Call and its record, app state behind `web.AppKey`s:
    no `request["llms.…"]` or `app["llms.…"]` string keys."""
    needles = ('request["llms.', "request['llms.", 'app["llms.', "app['llms.")
    files = [*(SRC / "server").rglob("*.py"), SRC / "app.py", SRC / "services.py"]
    bad = [f"{p.relative_to(SRC)}: {n}" for p in files for n in needles if n in p.read_text()]
    assert bad == []
