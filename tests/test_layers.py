"""The layers: which package may import what (README, docs/architecture.md).

Every module under cimi/, backends/, ovf/ and cimiclient/ is parsed with ast,
and every import in it counts, those inside functions included: a
function-level import is how a breach of the layering hides.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("cimi", "backends", "ovf", "cimiclient")

# rule -> (the modules it is about, where they may be imported)
RULES = {
    "falcon only under cimi/http/": (("falcon",), "cimi/http/"),
    # cimi.store.db holds the peewee models: a module importing it works with peewee objects.
    "peewee only under cimi/store/": (("peewee", "playhouse", "cimi.store.db"), "cimi/store/"),
    "libvirt only under backends/": (("libvirt",), "backends/"),
    "ovf/ imports neither cimi nor backends": (("cimi", "backends"), ("cimi/", "backends/", "cimiclient/")),
    "cimiclient imports nothing of the server": (("cimi", "backends"), ("cimi/", "backends/", "ovf/")),
}

def imports_of(source, package):
    """Every module name `source` (a module of `package`) imports, absolute: `from a import b` gives a and a.b."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:                              # relative: from the package, up level - 1
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant)):
            names.add(node.args[0].value)
    return names


def modules():
    """path relative to the repository -> the names it imports."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            found[relative] = imports_of(path.read_text(), relative.rsplit("/", 1)[0].replace("/", "."))
    return found


def offenders(rule, found):
    targets, allowed = RULES[rule]
    return {path for path, names in found.items()
            if not path.startswith(allowed)
            and any(name == t or name.startswith(t + ".") for name in names for t in targets)}


@pytest.fixture(scope="module")
def found():
    return modules()


@pytest.mark.parametrize("rule", RULES)
def test_each_package_imports_only_what_its_layer_may(rule, found):
    assert offenders(rule, found) == set(), f"{rule}: breached by"


def test_every_import_counts_function_level_and_relative_ones_too():
    source = ("import os\n"
              "def late():\n    import falcon\n    from .db import Model\n"
              "class Lazy:\n    def load(self):\n        from . import sql\n        importlib.import_module('libvirt')\n")
    names = imports_of(source, "cimi.store")
    assert {"os", "falcon", "cimi.store.db", "cimi.store.db.Model", "cimi.store.sql", "libvirt"} <= names
    assert offenders("falcon only under cimi/http/", {"cimi/kinds/x.py": names, "cimi/http/y.py": names}) \
        == {"cimi/kinds/x.py"}
    assert offenders("cimiclient imports nothing of the server", {"cimiclient/a.py": {"cimiclient.errors"}}) == set()


def test_the_scan_sees_the_whole_tree(found):
    assert {"cimi/http/app.py", "cimi/errors.py", "backends/libvirt/host.py", "ovf/reader.py",
            "cimiclient/client.py"} <= set(found)
    assert "falcon" in found["cimi/http/app.py"] and "libvirt" in found["backends/libvirt/host.py"]
