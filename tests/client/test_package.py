"""The client is a package of its own: it runs without the server's code and keeps one error hierarchy."""
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import cimiclient
from cimiclient.errors import CimiError
from tests.ovf.conftest import file_drive_descriptor

ROOT = Path(__file__).resolve().parents[2]
SERVER = ("cimi", "backends")   # the server's packages; ovf/ (no HTTP, no libvirt) serves `cimi ovf inspect`


def run_without(blocked, code):
    """Run ``code`` in a fresh interpreter where importing any of ``blocked`` fails."""
    prelude = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    return subprocess.run([sys.executable, "-c", prelude + code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def client_modules():
    """Every module of the package but ``__main__`` (which runs the command)."""
    return [importlib.import_module(m.name) for m in pkgutil.walk_packages(cimiclient.__path__, "cimiclient.")
            if not m.name.endswith(".__main__")]


def test_every_client_module_imports_without_the_server_or_ovf():
    names = json.dumps([m.__name__ for m in client_modules()])
    proc = run_without(SERVER + ("ovf",), f"""
import importlib, json
for name in json.loads({names!r}):
    importlib.import_module(name)
print(sorted(m for m in sys.modules if m.split(".")[0] in ("cimi", "backends", "ovf") and sys.modules[m]))
""")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert len(json.loads(names)) > 20   # the library, cli/ and libcloud/ were all walked


def test_ovf_inspect_runs_with_the_server_blocked(tmp_path):
    desc = tmp_path / "vc.ovf"
    desc.write_bytes(file_drive_descriptor(1234))
    proc = run_without(SERVER, f"from cimiclient.cli import main\nsys.exit(main(['ovf', 'inspect', {str(desc)!r}]))")
    assert proc.returncode == 0, proc.stderr
    assert "disk (logical):" in proc.stdout and "file file1" in proc.stdout


def test_every_client_exception_is_a_cimi_error():
    defined = {cls for module in client_modules() for _, cls in inspect.getmembers(module, inspect.isclass)
               if issubclass(cls, BaseException) and cls.__module__.startswith("cimiclient")}
    assert {c.__name__ for c in defined} >= {"CimiError", "NotFound", "JobFailed", "CIMIError", "CIMIJobFailedError"}
    assert [c for c in defined if not issubclass(c, CimiError)] == []
    assert [c for c in defined if c.__name__ == "CimiError"] == [CimiError]


def test_console_scripts_keep_their_names():
    scripts = {ep.name: ep.value for ep in distribution("darn-simple-cloud").entry_points
               if ep.group == "console_scripts"}
    assert scripts == {"cimi": "cimiclient.cli:main", "cimi-server": "cimi.server:main"}
    proc = subprocess.run([sys.executable, "-m", "cimiclient.cli", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("Usage: cimi ")
