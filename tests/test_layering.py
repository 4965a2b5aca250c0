"""The layering rules, read from the source with `ast` (nothing is imported or run).

1. No module under app/delivery/ imports the campaigns or subscribers services (or any other
   module of those packages but their table models), by any means: `import`, `from … import`,
   or `importlib.import_module("…")` / `__import__("…")` with a literal name. Delivery reaches
   them only through its ports (app/delivery/ports.py), wired in app/composition.py.
2. Only app/main.py imports router modules (the modules that create an `APIRouter`).
3. No import cycle between app's packages. The graph has one node per package under app/
   (app/delivery/…, app/web/…) and one per top-level module (app/http.py, app/config.py …);
   an edge for every import, at module level AND inside functions. Imports under
   `if TYPE_CHECKING:` are ignored (they never run). The table models (`app.<pkg>.models`,
   and `app.models`, which gathers them for Alembic) form one node of their own, "models":
   tables are the shared schema every layer may read, and import only app.db and each other.
4. No module under tests/ imports a test module (a tests/…/test_*.py) other than itself, by
   `import` or `from … import`, absolute or relative (`if TYPE_CHECKING:` ignored, as in 3):
   shared helpers live in tests/fixtures/ (README, "Tests").
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"
TESTS = APP.parent / "tests"
DELIVERY_MAY_NOT_IMPORT = ("app.campaigns", "app.subscribers")


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(root: Path = APP) -> dict[str, ast.Module]:
    return {_module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(root.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """Every node, skipping the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child):
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def imports(module: str, tree: ast.Module) -> set[str]:
    """Fully qualified names under app that a module imports ("from a.b import c" gives
    "a.b.c": a module or a name in one; the graph resolves which)."""
    found = imported_names(module, tree, is_package=tree_is_package(module))
    return {name for name in found if name == "app" or name.startswith("app.")}


def imported_names(module: str, tree: ast.Module, *, is_package: bool) -> set[str]:
    """Fully qualified names a module imports, from any package."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            arg = node.args[0]
            if name in ("import_module", "__import__") and isinstance(arg, ast.Constant):
                found.add(str(arg.value))
    return found


_PACKAGES = {_module_name(p) for p in APP.rglob("__init__.py")}


def tree_is_package(module: str) -> bool:
    return module in _PACKAGES


def node_of(name: str) -> str:
    """The graph node of a module name: its package under app, its top-level module, or
    "models" for table models."""
    parts = name.split(".")
    if len(parts) < 2:
        return "app"
    if parts[-1] == "models" or name == "app.models":
        return "models"
    if len(parts) >= 3 and parts[2] == "models":
        return "models"
    return parts[1]


def package_graph(modules: dict[str, ast.Module]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    known = set(modules)
    for module, tree in modules.items():
        source = node_of(module)
        for name in imports(module, tree):
            # "from app.delivery import service" names a module; "from app.db import x" not.
            target = name if name in known else name.rpartition(".")[0]
            if target not in known or target == "app":
                continue
            if node_of(target) != source:
                graph[source].add(node_of(target))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def router_modules(modules: dict[str, ast.Module]) -> set[str]:
    return {
        module
        for module, tree in modules.items()
        if any(
            isinstance(n, ast.Call) and getattr(n.func, "id", None) == "APIRouter"
            for n in ast.walk(tree)
        )
    }


def owning_test_module(name: str, test_modules: set[str]) -> str | None:
    """The test module that a fully qualified name is or is in; None outside test modules."""
    parts = name.split(".")
    prefixes = (".".join(parts[:end]) for end in range(len(parts), 0, -1))
    return next((prefix for prefix in prefixes if prefix in test_modules), None)


def imports_between_test_modules(modules: dict[str, ast.Module], packages: set[str]) -> list[str]:
    """Every import of a test module by another module, as "<module> imports <name>"."""
    test_modules = {m for m in modules if m.rpartition(".")[2].startswith("test_")}
    return sorted(
        f"{module} imports {name}"
        for module, tree in modules.items()
        for name in imported_names(module, tree, is_package=module in packages)
        if owning_test_module(name, test_modules) not in (None, module)
    )


def test_delivery_imports_no_upper_domain() -> None:
    offences = [
        f"{module} imports {name}"
        for module, tree in _modules().items()
        if module.startswith("app.delivery")
        for name in imports(module, tree)
        if name.startswith(DELIVERY_MAY_NOT_IMPORT) and node_of(name) != "models"
    ]
    assert offences == []


def test_only_main_imports_routers() -> None:
    modules = _modules()
    routers = router_modules(modules)
    assert {"app.campaigns.api", "app.subscribers.public", "app.web.dev"} <= routers
    offences = [
        f"{module} imports {name}"
        for module, tree in modules.items()
        if module != "app.main"
        for name in imports(module, tree)
        if name in routers and name != module
    ]
    assert offences == []


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph(_modules())
    assert "delivery" in graph
    assert "composition" in graph
    assert find_cycle(graph) is None


def test_the_checks_see_what_they_forbid() -> None:
    """The walker finds function-level and importlib imports and skips TYPE_CHECKING."""
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from app.campaigns import service\n"
        "def f():\n    import app.subscribers.service\n"
        "    importlib.import_module('app.campaigns.service')\n"
        "from . import repository\n"
    )
    found = imports("app.delivery.x", tree)
    assert "app.subscribers.service" in found
    assert "app.campaigns.service" in found  # through importlib, not TYPE_CHECKING
    assert "app.delivery.repository" in found
    cyclic = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert find_cycle(cyclic) == ["a", "b", "c", "a"]


def test_no_module_under_tests_imports_a_test_module() -> None:
    modules = _modules(TESTS)
    assert "tests.fixtures.staff" in modules
    assert "tests.campaigns.test_redaktion" in modules
    packages = {_module_name(p) for p in TESTS.rglob("__init__.py")}
    assert imports_between_test_modules(modules, packages) == []


def test_the_test_module_check_sees_every_form() -> None:
    """Absolute and relative imports of a test module, or of a name in one, are found; the
    fixtures and a module's own name are not."""
    modules = {
        "tests.a.test_x": ast.parse("from tests.b.test_y import helper\n"),
        "tests.a.test_z": ast.parse("from . import test_x\nimport tests.b.test_y\n"),
        "tests.b.test_y": ast.parse(
            "from .test_w import CONSTANT\nfrom tests.fixtures.staff import as_role\n"
        ),
        "tests.b.test_w": ast.parse("import tests.b.test_w\n"),
        "tests.b": ast.parse("from .test_y import helper\n"),
    }
    assert imports_between_test_modules(modules, {"tests.b"}) == [
        "tests.a.test_x imports tests.b.test_y.helper",
        "tests.a.test_z imports tests.a.test_x",
        "tests.a.test_z imports tests.b.test_y",
        "tests.b imports tests.b.test_y.helper",
        "tests.b.test_y imports tests.b.test_w.CONSTANT",
    ]
