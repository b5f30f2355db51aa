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
