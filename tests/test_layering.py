"""The package's layering holds: a module never imports from a layer above its own.

Lazy imports inside functions count too, since they couple the layers just the same.
"""

import ast
from pathlib import Path

import course_lib

PACKAGE = Path(course_lib.__file__).parent

# Lowest first; modules of one layer may import each other.
LAYERS = [
    {"profiles", "stats", "setup"},
    {"data"},
    {"models"},
    {"rewards"},
    {"distill"},
    {"quant"},
    {"eval"},
    {"deploy"},
    {"widgets"},
    {"exercises"},
    {"chapter_map", "runner", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _top_part(module: str) -> str | None:
    """``course_lib.eval.stats`` -> ``eval``; None for modules outside the package."""
    parts = module.split(".")
    return parts[1] if parts[0] == "course_lib" and len(parts) > 1 else None


def _imported_parts(path: Path) -> set[str]:
    parts = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = (
                [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                if node.module == "course_lib"
                else [node.module]
            )
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        parts |= {p for p in map(_top_part, names) if p is not None}
    return parts


def test_every_subpackage_has_a_layer():
    found = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert found == set(RANK), "add new modules to LAYERS"


def test_no_module_imports_a_higher_layer():
    violations = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        if own == "__init__":
            continue
        for part in _imported_parts(path):
            if RANK[part] > RANK[own]:
                violations.append(f"{path.relative_to(PACKAGE)} imports course_lib.{part}")
    assert violations == []
