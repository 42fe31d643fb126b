"""Inspect disk bytes before use, and convert with qemu-img safely.

APPSEC(ovf): never trust ``ovf:format`` or a file name. The format is
decided once, from the bytes, and must agree with the descriptor; qemu-img
always gets that format explicitly (``-f``) and runs under resource
limits. Refused: qcow2 with a backing file, an external data file,
encryption or unknown incompatible features (CVE-2024-32498); VMDK text
descriptors and sparse VMDKs whose embedded descriptor names other files
or is not streamOptimized/monolithicSparse (CVE-2022-47951); VHD/VHDX/
VDI/LUKS images, which we have no reason to accept.
"""

import os
import re
import resource
import struct
import subprocess
import threading
from dataclasses import dataclass

from ovf.errors import OVFError

#: Bytes of a disk we inspect: enough for a qcow2 header cluster (up to
#: 2 MiB) and a VMDK embedded descriptor.
HEAD_BYTES = 2 * 1024 * 1024 + 4096

QCOW2_MAGIC = b"QFI\xfb"
VMDK_MAGIC = b"KDMV"
#: qcow2 incompatible features we can live with: dirty (0), compression
#: type (3), extended L2 (4). Corrupt (1), external data file (2) and
#: anything unknown are refused.
_QCOW2_OK_INCOMPATIBLE = (1 << 0) | (1 << 3) | (1 << 4)
_QCOW2_EXT_DATA_FILE = 0x44415441
_VMDK_TYPES = ("streamOptimized", "monolithicSparse")
_EXTENT = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\w+)\s+"([^"]*)"(\s+\d+)?$')
_DESCRIPTOR_KEY = re.compile(r'^([A-Za-z][\w.]*)\s*=\s*"?([^"]*)"?$')
_FOREIGN = {
    b"conectix": "vhd", b"vhdxfile": "vhdx", b"LUKS\xba\xbe": "luks",
}


@dataclass(frozen=True)
class DiskInfo:
    """What the bytes say a disk is.

    Attributes:
        format: Short name: ``qcow2``, ``vmdk-streamOptimized``,
            ``vmdk-monolithicSparse``, ``iso`` or ``raw``.
        virtualSize: Guest-visible size in bytes, when the header says.
    """

    format: str
    virtualSize: int | None = None

    @property
    def qemuFormat(self) -> str:
        """The name qemu-img's ``-f`` wants for this format."""
        return "vmdk" if self.format.startswith("vmdk") else self.format


def inspect_head(head: bytes) -> DiskInfo:
    """Decide a disk's format from its first bytes, or refuse it.

    Args:
        head: The first :data:`HEAD_BYTES` bytes (or the whole file if
            shorter), after any gzip/chunk reassembly.

    Raises:
        OVFError: if the image is of a refused kind or its header unsafe.
    """
    if head.startswith(QCOW2_MAGIC):
        return _inspect_qcow2(head)
    if head.startswith(VMDK_MAGIC):
        return _inspect_vmdk(head)
    if head.lstrip().startswith(b"# Disk DescriptorFile"):
        raise OVFError("disk is a VMDK text descriptor, which names other "
                       "files; only single-file sparse VMDKs are accepted")
    for magic, name in _FOREIGN.items():
        if head.startswith(magic):
            raise OVFError(f"disk is a {name} image, which is not accepted")
    if head[64:68] == b"\x7f\x10\xda\xbe":
        raise OVFError("disk is a VDI image, which is not accepted")
    if head[0x8001:0x8006] == b"CD001":
        return DiskInfo("iso", None)
    return DiskInfo("raw", None)


def inspect_file(path: str) -> DiskInfo:
    """Inspect a disk file on disk (see :func:`inspect_head`)."""
    with open(path, "rb") as f:
        info = inspect_head(f.read(HEAD_BYTES))
        if info.format == "raw":
            info = DiskInfo("raw", os.fstat(f.fileno()).st_size)
    return info


def _inspect_qcow2(head: bytes) -> DiskInfo:
    if len(head) < 72:
        raise OVFError("disk has a truncated qcow2 header")
    (version, backing_off, backing_len, cluster_bits, size,
     crypt) = struct.unpack(">IQIIQI", head[4:36])
    if version not in (2, 3):
        raise OVFError(f"disk is qcow2 version {version}, not 2 or 3")
    if backing_off or backing_len:
        raise OVFError("disk is a qcow2 image with a backing file, "
                       "which could read host files")
    if crypt:
        raise OVFError("disk is an encrypted qcow2 image")
    if not 9 <= cluster_bits <= 21:
        raise OVFError(f"disk has an invalid qcow2 cluster size 2^{cluster_bits}")
    header_len = 72
    if version == 3:
        if len(head) < 104:
            raise OVFError("disk has a truncated qcow2 v3 header")
        incompatible = struct.unpack(">Q", head[72:80])[0]
        header_len = struct.unpack(">I", head[100:104])[0]
        if incompatible & (1 << 2):
            raise OVFError("disk is a qcow2 image with an external data "
                           "file, which could read host files")
        if incompatible & ~_QCOW2_OK_INCOMPATIBLE:
            raise OVFError(f"disk is a qcow2 image with unsupported "
                           f"incompatible features {incompatible:#x}")
    _check_qcow2_extensions(head, header_len, 1 << cluster_bits)
    return DiskInfo("qcow2", size)


def _check_qcow2_extensions(head: bytes, offset: int, cluster: int) -> None:
    """Walk the header extensions; refuse a data-file name extension."""
    end = min(cluster, len(head))
    while offset + 8 <= end:
        ext_type, ext_len = struct.unpack(">II", head[offset:offset + 8])
        if ext_type == 0:
            return
        if ext_type == _QCOW2_EXT_DATA_FILE:
            raise OVFError("disk is a qcow2 image naming an external data file")
        offset += 8 + ((ext_len + 7) & ~7)
    if end < cluster:
        raise OVFError("disk qcow2 header extensions exceed what we inspect")


def _inspect_vmdk(head: bytes) -> DiskInfo:
    if len(head) < 77:
        raise OVFError("disk has a truncated VMDK header")
    capacity, _grain, desc_off, desc_size = struct.unpack("<QQQQ", head[12:44])
    start, length = desc_off * 512, desc_size * 512
    if not desc_off or not desc_size or start + length > len(head):
        raise OVFError("disk is a sparse VMDK without a readable embedded "
                       "descriptor")
    text = head[start:start + length].split(b"\x00", 1)[0]
    try:
        descriptor = text.decode("ascii")
    except UnicodeDecodeError:
        raise OVFError("disk VMDK descriptor is not ASCII") from None
    create_type = _check_vmdk_descriptor(descriptor)
    return DiskInfo(f"vmdk-{create_type}", capacity * 512)


def _check_vmdk_descriptor(text: str) -> str:
    """Check an embedded VMDK descriptor strictly; return its createType."""
    keys: dict[str, str] = {}
    extents = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        extent = _EXTENT.match(line)
        if extent:
            extents.append(extent)
            continue
        pair = _DESCRIPTOR_KEY.match(line)
        if not pair:
            raise OVFError("disk VMDK descriptor has a line we do not understand")
        keys[pair.group(1)] = pair.group(2)
    create_type = keys.get("createType")
    if create_type not in _VMDK_TYPES:
        raise OVFError(f"disk VMDK createType {create_type!r} is not one of "
                       f"{', '.join(_VMDK_TYPES)}")
    if keys.get("parentCID", "ffffffff").lower() != "ffffffff" or \
            "parentFileNameHint" in keys:
        raise OVFError("disk VMDK is a delta disk with a parent")
    if len(extents) != 1:
        raise OVFError(f"disk VMDK has {len(extents)} extents, expected 1")
    kind, name = extents[0].group(3), extents[0].group(4)
    if kind != "SPARSE" or "/" in name or "\\" in name or extents[0].group(5):
        raise OVFError(f"disk VMDK extent {kind} {name!r} names another file")
    return create_type


def decide_format(declared: str | None, found: DiskInfo) -> DiskInfo:
    """Require the bytes to agree with the descriptor's ``ovf:format``.

    Args:
        declared: Short format from the Disk (None when not stated).
        found: The result of inspecting the bytes.

    Raises:
        OVFError: when they disagree (format confusion) or the format is
            not one we import.
    """
    if found.format == "iso":
        raise OVFError("disk holds an ISO image, not a disk")
    if declared in (None, "unknown") or declared == found.format:
        return found
    raise OVFError(f"disk is declared {declared} but its bytes are "
                   f"{found.format}")


def _limits(address_space: int, cpu_seconds: int):
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    return apply


#: qemu-img convert -p prints "    (12.34/100%)" and a carriage return.
_PERCENT = re.compile(rb"\((\d+(?:\.\d+)?)/100%\)")


def run_with_progress(cmd: list[str], progress, *, timeout: int, preexec_fn=None) -> tuple[int, bytes]:
    """Run ``qemu-img convert -p ...``; call ``progress(percent)`` as it reports.

    Returns:
        (exit status, stderr bytes).

    Raises:
        subprocess.TimeoutExpired: when ``timeout`` seconds pass (the process is killed).
    """
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=preexec_fn)
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    killed = threading.Event()

    def kill():
        killed.set()
        proc.kill()
    timer = threading.Timer(timeout, kill)
    timer.start()
    try:
        pending = b""
        while chunk := proc.stdout.read1(4096):
            pending += chunk
            *done, pending = re.split(rb"[\r\n]", pending)
            for match in (_PERCENT.search(line) for line in done):
                if match and progress:
                    progress(float(match.group(1)))
        proc.wait()
    finally:
        timer.cancel()
        reader.join()
        proc.stdout.close()
        proc.stderr.close()
    if killed.is_set():
        raise subprocess.TimeoutExpired(cmd, timeout)
    return proc.returncode, b"".join(errors)


def convert(src: str, dst: str, src_format: str, out_format: str, options=(), *,
            address_space: int = 2 * 1024**3, cpu_seconds: int = 600, timeout: int = 3600,
            progress=None) -> DiskInfo:
    """The one way we run qemu-img: ``convert -p`` with explicit -f/-O, then inspect the output.

    Args:
        src: The disk file; its format decided from the bytes as ``src_format`` (qemu's name).
        dst: Where to write (must not exist).
        out_format: qemu's name for the output format; ``options`` go after it (``-o ...``).
        address_space: RLIMIT_AS of qemu-img, in bytes.
        cpu_seconds: RLIMIT_CPU of qemu-img.
        timeout: Wall-clock limit in seconds.
        progress: Called with qemu-img's percentage as it converts.

    Raises:
        OVFError: if qemu-img fails or takes too long; the reason names no host path.
    """
    # Absolute paths: a name like "json:{...}" must never reach qemu as a protocol.
    src, dst = os.path.abspath(src), os.path.abspath(dst)
    cmd = ["qemu-img", "convert", "-p", "-f", src_format, "-O", out_format, *options, src, dst]
    try:
        status, stderr = run_with_progress(cmd, progress, timeout=timeout,
                                           preexec_fn=_limits(address_space, cpu_seconds))
    except subprocess.TimeoutExpired:
        raise OVFError("disk conversion took too long") from None
    if status != 0:
        # The reason is shown to the client: never the host paths qemu-img names.
        text = stderr.decode(errors="replace").replace(src, "the disk").replace(dst, "the output")
        message = text.strip().splitlines()
        raise OVFError(f"disk conversion failed: "
                       f"{message[-1] if message else status}")
    return inspect_file(dst)


def convert_to_qcow2(src: str, dst: str, info: DiskInfo, **limits) -> DiskInfo:
    """Convert an inspected disk (``info``, passed as ``-f``) to qcow2; see :func:`convert` for ``limits``.

    Raises:
        OVFError: if qemu-img fails or the output is not a plain qcow2.
    """
    if info.qemuFormat not in ("raw", "qcow2", "vmdk"):
        raise OVFError(f"cannot convert a {info.format} disk")
    out = convert(src, dst, info.qemuFormat, "qcow2", **limits)
    if out.format != "qcow2":
        raise OVFError("disk conversion did not produce qcow2")
    return out
