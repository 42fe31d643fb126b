"""Disk byte inspection and the qemu-img conversion helper."""

import struct
import subprocess

import pytest

from tests.ovf.conftest import make_disk
from ovf import disks
from ovf.errors import OVFError


def qemu_create(tmp_path, name, *args):
    path = tmp_path / name
    subprocess.run(["qemu-img", "create", "-q", *args[:-1], str(path), args[-1]],
                   check=True)
    return path


@pytest.mark.parametrize("fmt,options,expected", [
    ("vmdk", ("subformat=streamOptimized",), "vmdk-streamOptimized"),
    ("vmdk", ("subformat=monolithicSparse",), "vmdk-monolithicSparse"),
    ("qcow2", (), "qcow2"),
    ("raw", (), "raw"),
])
def test_real_images_detected(tmp_path, fmt, options, expected):
    info = disks.inspect_head(make_disk(tmp_path, fmt=fmt, options=options, size="2M"))
    assert info.format == expected
    if expected != "raw":
        assert info.virtualSize == 2 * 1024 * 1024


def test_qcow2_backing_file_refused(tmp_path):
    path = qemu_create(tmp_path, "b.qcow2", "-f", "qcow2", "-b", "/etc/shadow",
                       "-F", "raw", "-u", "1M")
    with pytest.raises(OVFError, match="backing file"):
        disks.inspect_file(str(path))


def test_qcow2_external_data_file_refused(tmp_path):
    path = qemu_create(tmp_path, "d.qcow2", "-f", "qcow2", "-o",
                       f"data_file={tmp_path / 'data.raw'}", "1M")
    with pytest.raises(OVFError, match="external data file"):
        disks.inspect_file(str(path))


def test_qcow2_unknown_incompatible_feature_refused(tmp_path):
    head = bytearray(make_disk(tmp_path, fmt="qcow2", options=()))
    head[72:80] = struct.pack(">Q", 1 << 40)
    with pytest.raises(OVFError, match="incompatible features"):
        disks.inspect_head(bytes(head))


def test_vmdk_text_descriptor_refused(tmp_path):
    path = qemu_create(tmp_path, "flat.vmdk", "-f", "vmdk", "-o",
                       "subformat=monolithicFlat", "1M")
    with pytest.raises(OVFError, match="text descriptor"):
        disks.inspect_file(str(path))


def _patch_descriptor(data: bytes, old: bytes, new: bytes) -> bytes:
    assert old in data
    return data.replace(old, new.ljust(len(old)), 1)


def test_vmdk_embedded_extent_naming_host_file_refused(tmp_path):
    data = make_disk(tmp_path)
    start = data.index(b'SPARSE "')
    end = data.index(b'"', start + 8)
    evil = data[:start] + b'FLAT "/etc/shadow" 0'.ljust(end + 1 - start) + data[end + 1:]
    with pytest.raises(OVFError, match="names another file"):
        disks.inspect_head(evil)


def test_vmdk_disallowed_create_type_refused(tmp_path):
    data = _patch_descriptor(make_disk(tmp_path), b'createType="streamOptimized"',
                             b'createType="vmfs"')
    with pytest.raises(OVFError, match="createType 'vmfs'"):
        disks.inspect_head(data)


@pytest.mark.parametrize("head,name", [(b"conectix" + b"\0" * 600, "vhd"),
                                       (b"vhdxfile" + b"\0" * 600, "vhdx")])
def test_foreign_formats_refused(head, name):
    with pytest.raises(OVFError, match=f"a {name} image"):
        disks.inspect_head(head)


def test_decide_format_requires_agreement():
    qcow = disks.DiskInfo("qcow2", 10)
    assert disks.decide_format("qcow2", qcow) is qcow
    assert disks.decide_format(None, qcow) is qcow
    with pytest.raises(OVFError, match="declared vmdk-streamOptimized"):
        disks.decide_format("vmdk-streamOptimized", qcow)
    with pytest.raises(OVFError, match="declared qcow2 but its bytes are raw"):
        disks.decide_format("qcow2", disks.DiskInfo("raw", 10))


def test_convert_stream_optimized_to_qcow2(tmp_path):
    src = tmp_path / "in.vmdk"
    src.write_bytes(make_disk(tmp_path, size="4M"))
    info = disks.inspect_file(str(src))
    out = disks.convert_to_qcow2(str(src), str(tmp_path / "out.qcow2"), info)
    assert (out.format, out.virtualSize) == ("qcow2", 4 * 1024 * 1024)


def test_convert_runs_under_address_space_limit(tmp_path):
    src = tmp_path / "in.vmdk"
    src.write_bytes(make_disk(tmp_path, size="4M"))
    info = disks.inspect_file(str(src))
    with pytest.raises(OVFError, match="conversion failed"):
        disks.convert_to_qcow2(str(src), str(tmp_path / "out.qcow2"), info,
                               address_space=16 * 1024 * 1024)
    assert not (tmp_path / "out.qcow2").exists() or \
        disks.inspect_file(str(tmp_path / "out.qcow2")).format != "vmdk-streamOptimized"


def test_convert_wrong_explicit_format_fails(tmp_path):
    src = tmp_path / "in.vmdk"
    src.write_bytes(make_disk(tmp_path, fmt="qcow2", options=()))
    with pytest.raises(OVFError, match="conversion failed"):
        disks.convert_to_qcow2(str(src), str(tmp_path / "o.qcow2"),
                               disks.DiskInfo("vmdk-streamOptimized"))


def test_conversion_errors_name_no_host_path(tmp_path):
    """The reason reaches the client (a Job's statusMessage): qemu-img's paths are not in it."""
    from ovf.disks import DiskInfo, convert_to_qcow2
    src = tmp_path / "secret-dir" / "file-0"
    src.parent.mkdir()
    src.write_bytes(b"KDMV" + bytes(4096))
    with pytest.raises(OVFError, match="disk conversion failed") as caught:
        convert_to_qcow2(str(src), str(tmp_path / "out.qcow2"), DiskInfo("vmdk-streamOptimized"))
    assert str(tmp_path) not in str(caught.value) and "the disk" in str(caught.value)


def test_convert_writes_the_export_format(tmp_path):
    """The one qemu-img runner also serves export: qcow2 to a streamOptimized vmdk, checked by its bytes."""
    src = tmp_path / "in.qcow2"
    src.write_bytes(make_disk(tmp_path, fmt="qcow2", size="4M", options=()))
    out = disks.convert(str(src), str(tmp_path / "out.vmdk"), "qcow2", "vmdk", ["-o", "subformat=streamOptimized"])
    assert (out.format, out.virtualSize) == ("vmdk-streamOptimized", 4 * 1024 * 1024)
    with pytest.raises(OVFError, match="disk conversion failed") as caught:
        disks.convert(str(src), str(tmp_path / "again.vmdk"), "vmdk", "qcow2")
    assert str(tmp_path) not in str(caught.value)
