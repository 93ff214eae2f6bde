"""The house's lines, read from the source: imports run one way, viz only draws, only Settings reads the environment."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "lit_rnn"
MODELS_OR_TRAINER = {"lit_rnn.models", "lit_rnn.train", "lit_rnn.packed", "lit_rnn.grid"}
ENVIRONMENT = {"LIT_RNN_HOME", "LIT_RNN_DATA"}
DOORS = {"lit_rnn.folders", "lit_rnn.settings", "lit_rnn.cli"}  # where the environment may be read


def _name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, ast.Module]:
    return {_name(path): ast.parse(path.read_text(), str(path)) for path in sorted(PACKAGE.rglob("*.py"))}


MODULES = _modules()


def _imported(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The modules an import statement loads: ``from lit_rnn.viz import figures`` loads lit_rnn.viz.figures."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level or node.module is None:
        raise AssertionError(f"relative import at line {node.lineno}: the package imports by absolute names")
    submodules = [f"{node.module}.{alias.name}" for alias in node.names if f"{node.module}.{alias.name}" in MODULES]
    return submodules or [node.module]


def imports(tree: ast.Module, top_level_only: bool = False) -> set[str]:
    """Every module a module imports (with ``top_level_only``, only what importing it loads: no imports inside
    functions)."""
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.update(_imported(node))
    return found


def _package_graph(top_level_only: bool = False) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (packages' ``__init__`` left out: they hold nothing)."""
    return {name: {m for m in imports(tree, top_level_only) if m in MODULES and m != name and not _is_package(m)}
            for name, tree in MODULES.items()}


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def loaded_by(name: str) -> set[str]:
    """The package's modules that importing ``name`` loads (itself included): its top-level imports, transitively."""
    graph, seen, todo = _package_graph(top_level_only=True), set(), [name]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(graph[module])
    return seen


def _loads_torch(module: str) -> bool:
    return any(m.split(".")[0] == "torch" for m in imports(MODULES[module], top_level_only=True))


def test_the_package_has_no_import_cycle_even_through_imports_inside_functions():
    assert find_cycle(_package_graph()) is None, f"import cycle: {' -> '.join(find_cycle(_package_graph()))}"


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_viz_only_draws_it_never_imports_the_models_the_trainer_or_torch():
    viz = [name for name in MODULES if name.startswith("lit_rnn.viz.")]
    assert viz
    for name in viz:
        direct = imports(MODULES[name])  # inside functions too
        assert not direct & MODELS_OR_TRAINER, f"{name} imports {sorted(direct & MODELS_OR_TRAINER)}"
        assert not any(m.split(".")[0] == "torch" for m in direct), f"{name} imports torch"
        loaded = loaded_by(name)
        assert not loaded & MODELS_OR_TRAINER, f"importing {name} loads {sorted(loaded & MODELS_OR_TRAINER)}"
        assert not [m for m in loaded if _loads_torch(m)], \
            f"importing {name} loads torch through {sorted(m for m in loaded if _loads_torch(m))}"


def test_analysis_never_trains_or_runs_a_model():
    for name in (n for n in MODULES if n.startswith("lit_rnn.analysis.")):
        loaded = loaded_by(name)
        assert not loaded & MODELS_OR_TRAINER, f"importing {name} loads {sorted(loaded & MODELS_OR_TRAINER)}"
        assert not [m for m in loaded if _loads_torch(m)], f"importing {name} loads torch"


def _environment_reads(tree: ast.Module) -> list[int]:
    """Lines that name ``$LIT_RNN_HOME`` or ``$LIT_RNN_DATA`` in code (a string that is exactly the name, as
    ``os.environ[...]``, ``os.getenv(...)`` or a constant handed to them takes it; messages and docstrings that
    mention it in a sentence are not reads)."""
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in ENVIRONMENT]


def test_only_the_doors_read_the_folders_from_the_environment():
    readers = {name: lines for name, tree in MODULES.items() if (lines := _environment_reads(tree))}
    assert set(readers) <= DOORS, f"read below Settings: {({k: v for k, v in readers.items() if k not in DOORS})}"
    assert "lit_rnn.folders" in readers  # the scan sees the one place that does read it (for Settings and the window)


def test_the_environment_scan_sees_a_read():
    tree = ast.parse('import os\nfolder = os.environ.get("LIT_RNN_HOME", "artifacts")\n"""$LIT_RNN_HOME or ./x"""')
    assert _environment_reads(tree) == [2]
