"""The layout reads as the pipeline: corpus -> retrieval (lexical -> semantic -> answers) -> bot, no arrow upward.

Every import counts, also those inside functions and under TYPE_CHECKING: a circle that only a lazy
import hides is still a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("corpus", "retrieval", "bot")
# a package may import only packages of the same rank or before it in this order
ORDER = ["corpus", "retrieval.lexical", "retrieval.semantic", "retrieval.answers", "retrieval.quality", "bot"]


def _modules() -> dict[str, Path]:
    found = {}
    for top in PRODUCT:
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The product modules `name` imports (a package's `from x import y` counts y when y is a module)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t in modules and t != name)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _rank(module: str) -> int:
    """The module's place in ORDER; `retrieval` itself and `retrieval.errors` sit with the first stage."""
    matches = [i for i, prefix in enumerate(ORDER) if module == prefix or module.startswith(prefix + ".")]
    return max(matches) if matches else ORDER.index("retrieval.lexical")


def test_no_import_circles_in_the_product():
    graph = _graph()
    # Tarjan's strongly connected components: any component of two or more modules is a circle
    index, low, stack, on, circles = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert circles == []


def test_no_arrow_upward():
    upward = [f"{a} -> {b}" for a, targets in _graph().items() for b in targets if _rank(b) > _rank(a)]
    assert upward == []


def test_nothing_below_the_bot_imports_evaluation_code():
    users = {a for a, targets in _graph().items() for b in targets if b.startswith("retrieval.quality")}
    assert sorted(a for a in users if not a.startswith(("retrieval.quality", "bot."))) == []


def test_discord_only_in_bot():
    for name, path in _modules().items():
        if not name.startswith("bot"):
            assert "import discord" not in path.read_text(encoding="utf-8"), name


def test_every_shipped_model_names_the_script_data_and_commit_that_made_it():
    import json

    models = sorted((ROOT / "retrieval").rglob("*_model.json"))
    assert models
    for path in models:
        made = json.loads(path.read_text())["made_by"]
        assert (ROOT / made["script"]).is_file(), path
        assert made["data"] and len(made["commit"].split()[0].split("+")[0]) == 40, path
