"""Shared helpers: sample paths and builders for hostile packages.

Every hostile package is built inside the test (tarfile, qemu-img) so the
attack is visible next to the assertion that refuses it.
"""

import hashlib
import io
import subprocess
import tarfile
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent.parent / "data" / "ovf"

VMDK_URI = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"


def sample(name: str) -> Path:
    """Path of a real descriptor copied from /work/shared/ovf-samples."""
    return DATA / name


def descriptor(href="disk.vmdk", size=None, capacity=1048576, fmt=VMDK_URI,
               file_attrs="", extra_files="", envelope_extra="",
               ns="http://schemas.dmtf.org/ovf/envelope/1") -> bytes:
    """A minimal valid 1.x descriptor with one disk-backed VirtualSystem."""
    size_attr = f' ovf:size="{size}"' if size is not None else ""
    fmt_attr = f' ovf:format="{fmt}"' if fmt else ""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="{ns}" xmlns:ovf="{ns}"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References>
    <File ovf:id="file1" ovf:href="{href}"{size_attr}{file_attrs}/>{extra_files}
  </References>
  <DiskSection><Info>disks</Info>
    <Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="{capacity}"{fmt_attr}/>
  </DiskSection>
  <NetworkSection><Info>nets</Info><Network ovf:name="lan"/></NetworkSection>{envelope_extra}
  <VirtualSystem ovf:id="vm1">
    <Info>vm</Info><Name>vm one</Name>
    <VirtualHardwareSection><Info>hw</Info>
      <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>2</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>512</rasd:VirtualQuantity></Item>
      <Item><rasd:InstanceID>3</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType></Item>
      <Item><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>
        <rasd:InstanceID>4</rasd:InstanceID><rasd:Parent>3</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType></Item>
      <Item><rasd:Connection>lan</rasd:Connection><rasd:InstanceID>5</rasd:InstanceID>
        <rasd:ResourceType>10</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>
""".encode()


def file_drive_descriptor(size):
    """VirtualCenter 2009 style: the disk Item's HostResource is ovf:/file/file1, no DiskSection."""
    return descriptor(size=size).replace(
        b"<rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource>",
        b"<rasd:HostResource>ovf:/file/file1</rasd:HostResource>").replace(
        b"""<Disk ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:capacity="1048576" """
        b"""ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>""", b"")


def make_disk(tmp_path: Path, fmt="vmdk", size="1M", name="disk.vmdk",
              options=("subformat=streamOptimized",)) -> bytes:
    """Create a real image with qemu-img and return its bytes."""
    path = tmp_path / f"qemu-{name}"
    cmd = ["qemu-img", "create", "-q", "-f", fmt]
    for opt in options:
        cmd += ["-o", opt]
    subprocess.run(cmd + [str(path), size], check=True)
    return path.read_bytes()


def manifest_line(name: str, data: bytes, alg="SHA256") -> str:
    """One manifest line in the 1.x/2.x form."""
    return f"{alg}({name})= {hashlib.new(alg.lower(), data).hexdigest()}\n"


def tar_member(name: str, data: bytes = b"", kind=tarfile.REGTYPE,
               linkname: str = "") -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    return info, data


def write_ova(path: Path, members) -> Path:
    """Write an OVA from (TarInfo, bytes) pairs or (name, bytes) pairs, in order."""
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
        for member in members:
            if not isinstance(member[0], tarfile.TarInfo):
                member = tar_member(*member)
            info, data = member
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return path


@pytest.fixture
def vmdk(tmp_path) -> bytes:
    """A real 1 MiB streamOptimized VMDK."""
    return make_disk(tmp_path)


@pytest.fixture
def good_ova(tmp_path, vmdk):
    """Build a valid OVA (descriptor, manifest, disk) and return its path."""
    desc = descriptor(size=len(vmdk))
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", vmdk)
    return write_ova(tmp_path / "vm.ova", [("vm.ovf", desc),
                                          ("vm.mf", mf.encode()),
                                          ("disk.vmdk", vmdk)])
