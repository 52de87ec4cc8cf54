"""The packages import each other only in the documented direction, and no module cycle exists,
counting imports inside functions too (a deferred import is still a dependency).

    app -> ingest -> retriever;  app -> generator;  retriever and generator import neither app
    nor each other; all may import ``modelpack``, the leaf that finds packaged models.

The tables stay behind ``retriever/`` and ``ingest/``: ``app/`` reads and edits them through
``retriever.catalog`` and ``ingest.jobs``, never with SQLAlchemy, the ORM models or a session.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAY_IMPORT = {
    "app": {"app", "ingest", "retriever", "generator", "modelpack"},
    "ingest": {"ingest", "retriever", "modelpack"},
    "retriever": {"retriever", "modelpack"},
    "generator": {"generator", "modelpack"},
    "modelpack": {"modelpack"},
}


def project_modules() -> dict[str, Path]:
    found = {}
    for package in MAY_IMPORT:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """Project modules ``path`` imports, at any depth of the file (``from a import b`` counts as
    ``a.b`` when that is a module, else ``a``)."""

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    found: set[str | None] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {known(alias.name) for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {known(f"{node.module}.{alias.name}") or known(node.module) for alias in node.names}
    return {name for name in found if name is not None}


def all_imports(path: Path) -> set[str]:
    """Every module name ``path`` imports, project or not, at any depth."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def session_uses(path: Path) -> list[int]:
    """Lines that open a database session (``x.session()``, ``x.sessions``)."""
    return sorted(
        node.lineno
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Attribute) and node.attr in {"session", "sessions"}
    )


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_packages_import_only_in_the_documented_direction() -> None:
    wrong = sorted(
        f"{importer} imports {imported}"
        for importer, targets in graph().items()
        for imported in targets
        if imported.split(".")[0] not in MAY_IMPORT[importer.split(".")[0]]
    )
    assert wrong == []


def test_app_reaches_the_tables_only_through_the_catalog() -> None:
    modules = project_modules()
    wrong = sorted(
        f"{name} imports {imported}"
        for name, path in modules.items()
        if name.split(".")[0] == "app"
        for imported in all_imports(path)
        if imported.split(".")[0] == "sqlalchemy" or imported.startswith("retriever.db")
    )
    sessions = sorted(
        f"{name}:{line}"
        for name, path in modules.items()
        if name.split(".")[0] == "app"
        for line in session_uses(path)
    )
    assert (wrong, sessions) == ([], [])


def test_no_module_imports_itself_back() -> None:
    assert cycles(graph()) == []


def test_the_checks_see_what_they_claim_to() -> None:
    """A deferred import is an edge, and a planted cycle is found (the tests above can fail)."""
    edges = graph()
    assert "retriever.embedders.onnx_export" in edges["retriever.embedders.onnx_minilm"]  # in a method
    assert "generator.models" in edges["generator.registry"]
    planted = {**edges, "retriever.search": edges["retriever.search"] | {"retriever.embedders.registry"}}
    planted["retriever.embedders.registry"] = edges["retriever.embedders.registry"] | {"retriever.search"}
    assert ["retriever.embedders.registry", "retriever.search"] in cycles(planted)
    modules = project_modules()
    assert "sqlalchemy.orm" in all_imports(modules["retriever.catalog.documents"])
    assert session_uses(modules["retriever.catalog.jobs"])  # a session is seen where there is one
