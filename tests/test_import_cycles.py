"""The import graph of our packages has no cycle, function-level imports included.

Layers (docs: HELPERS, issue 11): cimi/http -> crud, registry, kinds -> cimi/ops
-> store, backends, ovf. A cycle hidden in a function-level import is still a
cycle: the modules cannot be understood (or loaded) one without the other.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cimi", "backends", "ovf", "cimiclient")


def _modules():
    """Return {module name: path} of every Python file in our packages."""
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _resolve(name, modules):
    """The longest prefix of a dotted name that is one of our modules (None: not ours)."""
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in modules:
            return candidate
    return None


def _imports(module, path, modules):
    """Every module of ours that `module` imports, at module or function level."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[:len(package) - node.level + 1]
                base = ".".join(package + ([base] if base else []))
            # `from a import b` imports a.b when b is a module, else a.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name, modules)
            if target is not None and target != module:
                found.add(target)
    return found


def import_graph():
    modules = _modules()
    return {m: _imports(m, path, modules) for m, path in modules.items()}


def find_cycle(graph):
    """Return one cycle as a list of modules (first == last), or None."""
    WHITE, GREY, BLACK = 0, 1, 2
    colour = dict.fromkeys(graph, WHITE)
    stack = []

    def visit(node):
        colour[node] = GREY
        stack.append(node)
        for nxt in sorted(graph[node]):
            if colour[nxt] == GREY:
                return stack[stack.index(nxt):] + [nxt]
            if colour[nxt] == WHITE:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        colour[node] = BLACK
        return None

    for node in sorted(graph):
        if colour[node] == WHITE:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_operations_never_import_kinds_crud_or_http():
    graph = import_graph()
    upward = ("cimi.kinds", "cimi.crud", "cimi.http")
    wrong = sorted((m, t) for m, targets in graph.items() if m == "cimi.ops" or m.startswith("cimi.ops.")
                   for t in targets if any(t == u or t.startswith(u + ".") for u in upward))
    assert not wrong, f"cimi/ops imports upward: {wrong}"


def test_the_checker_sees_function_level_imports(tmp_path):
    """A cycle closed only by an import inside a function is found."""
    graph = {"a": {"b"}, "b": set()}
    assert find_cycle(graph) is None
    graph["b"].add("a")
    assert find_cycle(graph) == ["a", "b", "a"]
    source = "def f():\n    from cimi import crud\n"
    path = tmp_path / "x.py"
    path.write_text(source)
    assert _imports("cimi.x", path, {"cimi.crud": None, "cimi.x": None, "cimi": None}) == {"cimi.crud"}
