"""OVA and directory packages: the attack classes of ovf-reference.md §3.

Each test builds its hostile package in tmp_path and asserts the refusal
and, where files would be written, that nothing was left behind.
"""

import gzip
import shutil
import subprocess
import tarfile

import pytest

from tests.ovf.conftest import (descriptor, make_disk, manifest_line, sample, tar_member,
                      write_ova)
from ovf.errors import OVFError
from ovf.package import open_package


def refused(path, match, **kwargs):
    with pytest.raises(OVFError, match=match) as err:
        open_package(path, **kwargs)
    return err.value


def test_good_ova_materialized(tmp_path, good_ova, vmdk):
    dest = tmp_path / "out"
    dest.mkdir()
    pkg = open_package(good_ova, dest=dest)
    assert pkg.manifestChecked and pkg.signature.status == "unsigned"
    assert pkg.files["file1"].read_bytes() == vmdk
    assert pkg.files["file1"].name == "file-0"
    assert pkg.formats["file1"].format == "vmdk-streamOptimized"


@pytest.mark.parametrize("name", ["../evil.vmdk", "/etc/evil.vmdk", "sub/disk.vmdk",
                                  "-rf.vmdk"])
def test_member_path_escape_refused(tmp_path, vmdk, name):
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor(size=len(vmdk))),
                                         (name, vmdk)])
    refused(ova, "not a plain file name")
    assert not (tmp_path / "evil.vmdk").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
                                  tarfile.FIFOTYPE, tarfile.DIRTYPE])
def test_link_and_device_members_refused(tmp_path, kind):
    ova = write_ova(tmp_path / "x.ova", [
        ("vm.ovf", descriptor()),
        tar_member("disk.vmdk", kind=kind, linkname="/etc/shadow")])
    refused(ova, "not a regular file")


def test_duplicate_member_refused(tmp_path, vmdk):
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor(size=len(vmdk))),
                                         ("disk.vmdk", vmdk), ("disk.vmdk", vmdk)])
    refused(ova, "appears twice")


def test_descriptor_not_first_refused(tmp_path, vmdk):
    ova = write_ova(tmp_path / "x.ova", [("disk.vmdk", vmdk), ("vm.ovf", descriptor())])
    refused(ova, "first member 'disk.vmdk' is not the OVF descriptor")


def test_unreferenced_member_refused(tmp_path, vmdk):
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor()), ("disk.vmdk", vmdk),
                                         ("extra.bin", b"payload")])
    refused(ova, "'extra.bin' is not referenced")


def test_size_mismatch_refused(tmp_path, vmdk):
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor(size=len(vmdk) - 1)),
                                         ("disk.vmdk", vmdk)])
    refused(ova, "declares")


def test_missing_file_refused(tmp_path):
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor())])
    refused(ova, "'disk.vmdk' is missing from the OVA")


def test_manifest_digest_mismatch_refused_and_cleaned(tmp_path, vmdk):
    desc = descriptor(size=len(vmdk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", vmdk + b"x")
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", desc), ("vm.mf", mf.encode()),
                                         ("disk.vmdk", vmdk)])
    dest = tmp_path / "out"
    dest.mkdir()
    refused(ova, "SHA256 digest of 'disk.vmdk' does not match", dest=dest)
    assert list(dest.iterdir()) == []


def test_manifest_of_tampered_descriptor_refused(tmp_path, vmdk):
    desc = descriptor(size=len(vmdk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", vmdk)
    tampered = desc.replace(b"vm one", b"vm two")
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", tampered), ("vm.mf", mf.encode()),
                                         ("disk.vmdk", vmdk)])
    refused(ova, "digest of 'vm.ovf' does not match")


def test_manifest_gaps_refused(tmp_path, vmdk):
    desc = descriptor(size=len(vmdk))
    ova = write_ova(tmp_path / "x.ova", [
        ("vm.ovf", desc), ("vm.mf", manifest_line("vm.ovf", desc).encode()),
        ("disk.vmdk", vmdk)])
    refused(ova, "manifest does not list disk.vmdk")
    extra = (manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", vmdk)
             + manifest_line("other.bin", b""))
    ova2 = write_ova(tmp_path / "y.ova", [("vm.ovf", desc), ("vm.mf", extra.encode()),
                                          ("disk.vmdk", vmdk)])
    refused(ova2, "not in the package: other.bin")


def test_manifest_at_end_accepted(tmp_path, vmdk):
    desc = descriptor(size=len(vmdk))
    mf = manifest_line("vm.ovf", desc, "SHA512") + manifest_line("disk.vmdk", vmdk, "SHA1")
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", desc), ("disk.vmdk", vmdk),
                                         ("vm.mf", mf.encode())])
    assert open_package(ova).manifestChecked


def test_gzip_bomb_bounded_by_capacity(tmp_path):
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))
    desc = descriptor(size=len(bomb), capacity=65536, file_attrs=' ovf:compression="gzip"')
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", desc), ("disk.vmdk", bomb)])
    dest = tmp_path / "out"
    dest.mkdir()
    refused(ova, "expands beyond", dest=dest)
    assert list(dest.iterdir()) == []


def test_gzip_chunked_file_reassembled(tmp_path, vmdk):
    packed = gzip.compress(vmdk)
    chunk = 200
    pieces = [packed[i:i + chunk] for i in range(0, len(packed), chunk)]
    names = [f"disk.vmdk.{i:09d}" for i in range(len(pieces))]
    desc = descriptor(size=len(packed),
                      file_attrs=f' ovf:compression="gzip" ovf:chunkSize="{chunk}"')
    mf = manifest_line("vm.ovf", desc) + "".join(
        manifest_line(n, p) for n, p in zip(names, pieces))
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", desc), ("vm.mf", mf.encode())]
                    + list(zip(names, pieces)))
    dest = tmp_path / "out"
    dest.mkdir()
    pkg = open_package(ova, dest=dest)
    assert len(pieces) > 1
    assert pkg.files["file1"].read_bytes() == vmdk


def test_chunks_out_of_order_refused(tmp_path, vmdk):
    pieces = [vmdk[:4096], vmdk[4096:]]
    desc = descriptor(size=len(vmdk), file_attrs=' ovf:chunkSize="4096"')
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", desc),
                                         ("disk.vmdk.000000001", pieces[1]),
                                         ("disk.vmdk.000000000", pieces[0])])
    refused(ova, "out of order")


def test_href_escape_refused(tmp_path):
    path = tmp_path / "vm.ovf"
    path.write_bytes(descriptor(href="../../../content/x.vmdk"))
    refused(path, "not a plain file name")
    path.write_bytes(descriptor(href="http://169.254.169.254/latest"))
    refused(path, "not a plain file name")


def test_directory_symlink_refused(tmp_path):
    (tmp_path / "vm.ovf").write_bytes(descriptor())
    (tmp_path / "disk.vmdk").symlink_to("/etc/passwd")
    refused(tmp_path / "vm.ovf", "cannot open 'disk.vmdk'")


def test_directory_missing_file_inspect_vs_import(tmp_path):
    (tmp_path / "vm.ovf").write_bytes(descriptor())
    assert open_package(tmp_path / "vm.ovf", require_files=False).absent == ["file1"]
    refused(tmp_path / "vm.ovf", "missing from the package")


def test_cot_manifest_verifies_descriptor_byte_for_byte(tmp_path):
    shutil.copy(sample("cot__vmware-style-cot-edited__input.ovf"), tmp_path / "input.ovf")
    shutil.copy(sample("cot__vmware-style-cot-edited__input.mf"), tmp_path / "input.mf")
    pkg = open_package(tmp_path / "input.ovf", require_files=False)
    assert pkg.manifestChecked and sorted(pkg.absent) == ["file1", "file2", "textfile"]
    (tmp_path / "input.iso").write_bytes(b"\0" * 360448)
    refused(tmp_path / "input.ovf", "digest of 'input.iso' does not match",
            require_files=False)


def test_ubuntu_sha256_manifest_matches(tmp_path):
    shutil.copy(sample("cot__virtualbox-ovf2.0__ubuntu.2.0.ovf"), tmp_path / "ubuntu.2.0.ovf")
    shutil.copy(sample("cot__virtualbox-ovf2.0__ubuntu.2.0.mf"), tmp_path / "ubuntu.2.0.mf")
    assert open_package(tmp_path / "ubuntu.2.0.ovf", require_files=False).manifestChecked


@pytest.mark.parametrize("name,match", [
    ("glance__testserver.ova", "declared vmdk-streamOptimized but its bytes are raw"),
    ("glance__testserver-not-tar.ova", "neither a tar archive"),
])
def test_glance_ovas_refused(name, match):
    refused(sample(name), match)


def test_glance_no_disk_and_no_ovf(tmp_path):
    with tarfile.open(sample("glance__testserver.ova")) as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar.getmembers()]
    refused(write_ova(tmp_path / "a.ova", members[:1]), "missing from the OVA")
    refused(write_ova(tmp_path / "b.ova", members[1:]), "not the OVF descriptor")


def test_format_mismatch_qcow2_declared_vmdk_refused(tmp_path):
    qcow = make_disk(tmp_path, fmt="qcow2", options=())
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor(size=len(qcow))),
                                         ("disk.vmdk", qcow)])
    refused(ova, "declared vmdk-streamOptimized but its bytes are qcow2")


def test_qcow2_backing_file_in_ova_refused(tmp_path):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/shadow",
                    "-F", "raw", "-u", str(tmp_path / "b.qcow2"), "1M"], check=True)
    data = (tmp_path / "b.qcow2").read_bytes()
    desc = descriptor(size=len(data), fmt="http://www.gnome.org/~markmc/qcow-image-format.html")
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", desc), ("disk.vmdk", data)])
    refused(ova, "backing file")


def test_virtual_size_larger_than_capacity_refused(tmp_path):
    big = make_disk(tmp_path, size="64M")
    ova = write_ova(tmp_path / "x.ova", [("vm.ovf", descriptor(size=len(big))),
                                         ("disk.vmdk", big)])
    refused(ova, "more than its ovf:capacity")
