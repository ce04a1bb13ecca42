"""The kernel knows nothing of the modules that dock to it: no module of `core` imports a
context, a read model, the edge, the hub or the composition root (`station`), not even
inside a function. Only the modules themselves and `station` wire them together."""

from __future__ import annotations

import ast
from pathlib import Path

CORE = Path(__file__).resolve().parents[3] / "core"
DOCKED = ("handlers", "projections", "edge", "hub", "station")


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports anywhere in its body."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_no_kernel_module_imports_a_docked_module() -> None:
    offenders = {
        path.name: sorted(imported_packages(path) & set(DOCKED))
        for path in sorted(CORE.glob("*.py"))
        if imported_packages(path) & set(DOCKED)
    }
    assert offenders == {}


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from handlers import contexts\n    import edge.app\n")
    assert imported_packages(module) == {"handlers", "edge"}
