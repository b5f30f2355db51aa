"""The package's import graph: no cycle, and prediction never imports training."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sklearn_tsft"


def module_name(path):
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
    """Module -> the package's modules it imports (relative imports only, as the package uses)."""
    files = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        imported = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1])
                target = f"{base}.{node.module}" if node.module else base
                imported.add(target)
                imported.update(f"{target}.{alias.name}" for alias in node.names)
        graph[name] = {module for module in imported if module in files and module != name}
    return graph


def reachable(graph, start):
    seen, todo = set(), [start]
    while todo:
        for module in graph[todo.pop()] - seen:
            seen.add(module)
            todo.append(module)
    return seen


def test_no_import_cycle():
    graph = import_graph()
    # `from . import x` names the package itself; its own __init__ runs first.
    graph = {name: deps - {"sklearn_tsft"} for name, deps in graph.items()}
    assert [name for name in graph if name in reachable(graph, name)] == []


@pytest.mark.parametrize("module", ["sklearn_tsft.inference", "sklearn_tsft.persistence"])
def test_prediction_does_not_import_training(module):
    assert "sklearn_tsft.training" not in reachable(import_graph(), module)


def test_the_method_has_its_own_folder():
    stages = {path.stem for path in (PACKAGE / "strategies" / "token_sparse").glob("*.py")}
    assert stages == {"__init__", "task_tokens", "selection", "sparse_delta"}


REPOSITORY = PACKAGE.parent


def private_imports(path):
    """``sklearn_tsft`` modules named with a leading underscore that ``path`` imports."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        found += [name for name in names if name.startswith("sklearn_tsft")
                  and any(part.startswith("_") for part in name.split(".")[1:])]
    return found


@pytest.mark.parametrize("folder", ["benchmarks", "examples"])
def test_scripts_use_only_the_public_modules_of_the_package(folder):
    scripts = sorted((REPOSITORY / folder).rglob("*.py"))
    assert scripts
    assert {str(p.relative_to(REPOSITORY)): private_imports(p) for p in scripts
            if private_imports(p)} == {}


def test_results_folders_hold_data_only():
    assert sorted((REPOSITORY / "benchmarks" / "results").rglob("*.py")) == []
