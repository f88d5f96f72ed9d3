"""Imports inside lowbit_ref go one way and happen at the top of each module.

The graph is read from the source (the AST of every module), not from a running interpreter, so
an import hidden in a function body is seen as well as one at the top. Rules:

- no cycle between lowbit_ref modules;
- the core layers import only layers above them: errors <- checks <- packed <- bitstream <- uintx
  <- _uintx_fast <- ternary <- base3; everything else (checkpoint, kernels, bench, widgets...) sits
  below them;
- no import of a lowbit_ref module inside a function, except one that defers Triton (an optional
  heavy dependency) and the ones listed in LATE_ALLOWED with their reason.
"""

import ast
import pathlib

import pytest

import lowbit_ref

ROOT = pathlib.Path(lowbit_ref.__file__).parent
LAYERS = ["errors", "checks", "packed", "bitstream", "uintx", "_uintx_fast", "ternary", "base3"]
LATE_ALLOWED: set[tuple[str, str]] = set()  # (module, what it imports late), each with its reason


def module_name(path: pathlib.Path) -> str:
    parts = ["lowbit_ref", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imports_of(name: str, path: pathlib.Path) -> list[tuple[str, bool]]:
    """(imported module, late?) for every import in the module; late = inside a def or class."""
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []

    def visit(node, late):
        for child in ast.iter_child_nodes(node):
            inner = late or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, late) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - child.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                submodules = [f"{base}.{alias.name}" for alias in child.names if f"{base}.{alias.name}" in MODULES]
                if len(submodules) < len(child.names):  # names defined in `base` itself
                    found.append((base, late))
                found.extend((m, late) for m in submodules)
            visit(child, inner)

    visit(tree, False)
    return found


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def internal(target: str) -> bool:
    return target in MODULES and target != "lowbit_ref"


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph ``edges`` as a list of nodes, or None."""
    state, stack = {}, []

    def dfs(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(edges):
        if node not in state and (cycle := dfs(node)):
            return cycle
    return None


def top_level_edges() -> dict[str, set[str]]:
    return {name: {t for t, late in imports if internal(t) and not late and t != name} for name, imports in GRAPH.items()}


def imports_triton(name: str, seen=None) -> bool:
    seen = seen if seen is not None else set()
    if name in seen:
        return False
    seen.add(name)
    tops = [t for t, late in GRAPH.get(name, []) if not late]
    return any(t.split(".")[0] == "triton" for t in tops) or any(imports_triton(t, seen) for t in tops if internal(t))


def test_the_walk_sees_every_module_and_its_imports():
    assert {"lowbit_ref", "lowbit_ref.uintx", "lowbit_ref.packed", "lowbit_ref.widgets.uintx"} <= set(MODULES)
    assert ("lowbit_ref.packed", False) in GRAPH["lowbit_ref.uintx"]
    assert ("lowbit_ref.uintx", False) in GRAPH["lowbit_ref.widgets.uintx"]  # `from ..uintx import ...`
    assert imports_triton("lowbit_ref.kernels") and not imports_triton("lowbit_ref.uintx")


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(top_level_edges())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


@pytest.mark.parametrize("layer", LAYERS)
def test_core_layers_import_only_layers_above(layer):
    name = f"lowbit_ref.{layer}"
    above = {f"lowbit_ref.{m}" for m in LAYERS[: LAYERS.index(layer)]}
    imported = {t for t, _ in GRAPH[name] if internal(t)}
    assert imported <= above, f"{name} imports {sorted(imported - above)}, which are not above it in {LAYERS}"


def test_no_late_imports_of_lowbit_ref_modules():
    late = sorted(
        (name, target)
        for name, imports in GRAPH.items()
        for target, is_late in imports
        if is_late and (internal(target) or target == "lowbit_ref")
    )
    bad = [(n, t) for n, t in late if (n, t) not in LATE_ALLOWED and not imports_triton(t)]
    assert not bad, f"imports inside functions (move them to the top of the module): {bad}"
