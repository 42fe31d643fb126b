"""``python -m ovf inspect``: exit codes, the JSON shape, the refusal line."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ovf.conftest import descriptor, sample, write_ova
from ovf.errors import OVFError
from ovf.inspect import inspect

ROOT = Path(__file__).resolve().parents[2]
VS_KEYS = {"id", "name", "cpus", "memoryMiB", "disks", "nics", "properties", "profile"}


def run(*args):
    return subprocess.run([sys.executable, "-m", "ovf", "inspect", *map(str, args)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_json_shape_and_default_profile(tmp_path):
    shutil.copy(sample("cot__vmware-style-cot-edited__input.ovf"), tmp_path / "input.ovf")
    shutil.copy(sample("cot__vmware-style-cot-edited__input.mf"), tmp_path / "input.mf")
    proc = run(tmp_path / "input.ovf", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert set(doc) == {"ovfVersion", "virtualSystems", "profiles", "networks", "warnings"}
    assert doc["warnings"] == []
    [vs] = doc["virtualSystems"]
    assert set(vs) == VS_KEYS
    assert (vs["cpus"], vs["memoryMiB"], vs["profile"]) == (4, 4096, "4CPU-4GB-3NIC")
    assert vs["disks"] == [{"diskId": "vmdisk1", "capacityBytes": 1073741824,
                            "format": "vmdk-streamOptimized", "fileRef": "file1"}]
    assert vs["nics"] == [{"network": "VM Network"}] * 3
    assert set(vs["properties"][0]) == {"key", "type", "default", "password"}
    assert doc["networks"] == ["VM Network"]


def test_profile_option():
    proc = run(sample("cot__cisco-appliance__csr1000v.ovf"), "--json",
               "--profile", "4CPU-8GB")
    vs = json.loads(proc.stdout)["virtualSystems"][0]
    assert (vs["cpus"], vs["memoryMiB"], vs["profile"]) == (4, 8192, "4CPU-8GB")


def test_human_summary():
    proc = run(sample("cot__vmware-vsphere__vmware.ovf"))
    assert proc.returncode == 0
    assert "2 vCPU, 1536 MiB memory" in proc.stdout
    assert "custom-property (string) = 'custom-value'" in proc.stdout


@pytest.mark.parametrize("name,reason", [
    ("cot__malformed-refs__invalid.ovf", "flash2"),
    ("glance__malformed-xml__illegal-xml.ovf", "not well-formed XML"),
    ("glance__testserver.ova", "its bytes are raw"),
    ("glance__testserver-not-tar.ova", "neither a tar archive"),
])
def test_refusal_is_one_line_exit_2(name, reason):
    proc = run(sample(name), "--json")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("refused: ")
    assert reason in lines[0]


def test_unknown_profile_refused():
    proc = run(sample("cot__cisco-appliance__csr1000v.ovf"), "--profile", "nope")
    assert proc.returncode == 2 and "unknown deployment option 'nope'" in proc.stderr


def test_missing_path_refused(tmp_path):
    proc = run(tmp_path / "absent.ova")
    assert proc.returncode == 2 and proc.stderr.startswith("refused: cannot read")


def test_inspect_flattens_collections_and_hides_passwords():
    doc = inspect(sample("govmomi__dsp0243-2.1.1-example3-ovf2.0__virtualsystemcollection.ovf"))
    assert [vs["id"] for vs in doc["virtualSystems"]] == ["storage server", "web-server"]
    assert doc["ovfVersion"] == "2.x" and doc["networks"] == ["VS Network"]
    assert doc["virtualSystems"][0]["disks"] == [
        {"diskId": None, "capacityBytes": 1073741824, "format": None, "fileRef": None}]


def test_inspect_never_echoes_password(tmp_path):
    data = descriptor().replace(b"<Name>vm one</Name>", b"""<Name>vm one</Name>
      <ProductSection><Info>p</Info><Property ovf:key="root" ovf:type="string"
       ovf:password="true" ovf:value="hunter2"/></ProductSection>""")
    (tmp_path / "vm.ovf").write_bytes(data)
    doc = inspect(tmp_path / "vm.ovf")
    assert doc["virtualSystems"][0]["properties"] == [
        {"key": "root", "type": "string", "default": None, "password": True}]
    assert "hunter2" not in run(tmp_path / "vm.ovf", "--json").stdout


def test_inspect_ova(tmp_path, good_ova):
    doc = inspect(good_ova)
    vs = doc["virtualSystems"][0]
    assert (vs["id"], vs["name"], vs["cpus"], vs["memoryMiB"]) == ("vm1", "vm one", 2, 512)
    assert vs["nics"] == [{"network": "lan"}] and doc["profiles"] == []


def test_inspect_raises_ovferror_for_hostile_ova(tmp_path):
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor()), ("../x", b"")])
    with pytest.raises(OVFError):
        inspect(ova)
