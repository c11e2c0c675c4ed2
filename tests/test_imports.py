"""The library's shape: its modules import each other without a cycle -- function-local imports included, so that
no circle can hide inside a function (issue 22, part 6).

Every ``lsmooth_lib/*.py`` is parsed with ``ast`` (nothing is imported), every import of a library module is
collected wherever it stands (``from . import x``, ``from .x import y``, ``from lsmooth_lib import x``,
``from lsmooth_lib.x import y``, ``import lsmooth_lib.x``), and the module graph must be acyclic.
"""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "lsmooth_lib"


def modules() -> set[str]:
    return {p.stem for p in PACKAGE.glob("*.py")}


def imported_modules(path: Path, known: set[str]) -> dict[str, int]:
    """``{module: first line}`` of the library modules ``path`` imports, at any depth of its syntax tree."""
    out: dict[str, int] = {}

    def add(name: str | None, line: int) -> None:
        if name in known and name != path.stem:
            out.setdefault(name, line)

    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level > 1:
                raise AssertionError(f"{path.name}:{node.lineno}: an import above the package (level {node.level})")
            if node.level == 1 or (node.module or "").split(".")[0] == "lsmooth_lib":
                parts = (node.module or "").split(".")[1 if node.level == 0 else 0:]
                if parts and parts[0]:
                    add(parts[0], node.lineno)           # from .x import y / from lsmooth_lib.x import y
                else:
                    for alias in node.names:             # from . import x / from lsmooth_lib import x
                        add(alias.name, node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "lsmooth_lib" and len(parts) > 1:
                    add(parts[1], node.lineno)           # import lsmooth_lib.x
    return out


def import_graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {p.stem: imported_modules(p, known) for p in sorted(PACKAGE.glob("*.py"))}


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, ..., a]``, or ``None`` (depth-first search, white/grey/black)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if state.get(nxt) is None:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if state.get(node) is None:
            found = visit(node)
            if found:
                return found
    return None


def describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    return " -> ".join(f"{a} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:])) + f" -> {cycle[-1]}"


def test_the_import_graph_is_acyclic():
    graph = import_graph()
    cycle = find_cycle(graph)
    assert cycle is None, f"lsmooth_lib's modules import each other in a circle: {describe(cycle, graph)}"


def test_the_graph_sees_every_kind_of_import(tmp_path):
    """The parser finds function-local imports and every spelling, so the test above cannot be fooled."""
    (tmp_path / "a.py").write_text("from . import b\n")
    (tmp_path / "b.py").write_text("def f():\n    from .c import g\n    import lsmooth_lib.d\n")
    (tmp_path / "c.py").write_text("def h():\n    from lsmooth_lib import a\n")
    (tmp_path / "d.py").write_text("from lsmooth_lib.a import x\nfrom . import __version__\n")
    known = {"a", "b", "c", "d"}
    graph = {p.stem: imported_modules(p, known) for p in sorted(tmp_path.glob("*.py"))}
    assert {k: set(v) for k, v in graph.items()} == {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert describe(find_cycle(graph), graph) == "a (line 1) -> b (line 2) -> c (line 2) -> a"
    del graph["c"]["a"]
    assert find_cycle(graph) == ["a", "b", "d", "a"]
    del graph["d"]["a"]
    assert find_cycle(graph) is None


def test_the_layers_stay_apart():
    """The shape the library keeps (issue 22): the tensor-level modules never reach the zoo, the training loop or
    inference; the training loop never reads the zoo; text data never imports the image loader."""
    graph = import_graph()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for nxt in graph.get(todo.pop(), {}):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    for low in ("checks", "files", "losses", "calibration", "kd", "models", "paper"):
        assert not reach(low) & {"zoo", "train", "infer", "data"}, (low, reach(low))
    assert "zoo" not in reach("train") and "zoo" not in reach("translation") and "zoo" not in reach("snapshot")
    assert "data" not in reach("text") and "train" not in reach("infer")
