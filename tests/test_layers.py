"""The package's layers hold: stats/ is pure, domain/ never reaches the web or the CLI, no import cycles.

Every import counts, also one inside a function (a lazy import hides a cycle, it does not remove it);
only imports under `if TYPE_CHECKING:` are left out, since they never run.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "annotator"

# layer -> the layers it may import; "root" is the package itself (create_app, app_folder), config.py,
# gunicorn_conf.py (the server's settings, which reach the app only through the loaded app object) and
# gunicorn_worker.py (the worker class those settings name, which knows nothing of the app)
ALLOWED = {
    "stats": {"stats"},
    "db": {"db", "stats", "root"},
    "domain": {"domain", "db", "stats"},
    "web": {"web", "domain", "db", "stats", "root"},
    "cli": {"cli", "domain", "db", "stats", "root"},
}
ROOT_MODULES = {"annotator", "annotator.__main__", "annotator.config", "annotator.gunicorn_conf", "annotator.gunicorn_worker"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_blocks(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The package's modules that `path` imports (a name imported from a package counts as its submodule)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_blocks(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "annotator")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            if base.split(".")[0] != "annotator":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else base)
    found.discard(name)
    return {m for m in found if m in modules}


def import_graph() -> dict[str, set[str]]:
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


def layer(module: str) -> str:
    if module in ROOT_MODULES:
        return "root"
    parts = module.split(".")
    assert len(parts) >= 2 and parts[1] in ALLOWED, f"{module} sits outside the layers: put it in one of {sorted(ALLOWED)}"
    return parts[1]


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert "annotator.domain.annotations.labels" in graph
    assert "annotator.db.models" in graph["annotator.domain.annotations.labels"]


def test_every_module_keeps_to_its_layer():
    broken = []
    for module, imported in import_graph().items():
        own = layer(module)
        if own == "root":
            continue  # the factory wires every layer together; `python -m annotator` is the CLI
        broken += [f"{module} ({own}) imports {t} ({layer(t)})" for t in sorted(imported) if layer(t) not in ALLOWED[own]]
    assert not broken, "layer rules broken:\n" + "\n".join(broken)


def test_domain_and_stats_never_import_flask():
    for path in sorted(PACKAGE.rglob("*.py")):
        if module_name(path) in ROOT_MODULES or layer(module_name(path)) not in ("stats", "domain"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            for name in names:
                assert name.split(".")[0] not in ("flask", "flask_login", "flask_wtf", "werkzeug"), f"{module_name(path)} imports {name}"


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycles():
    graph = import_graph()
    # A package's __init__ that imports its own submodules (to register routes or commands) is the
    # one allowed loop: the submodule needs the package's blueprint or group, the package wires them.
    pruned = {m: {t for t in ts if not (t.startswith(m + ".") or m.startswith(t + "."))} for m, ts in graph.items()}
    assert _cycles(pruned) == []


@pytest.mark.parametrize(
    "graph, expected",
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": set()}, []),
    ],
)
def test_the_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected
