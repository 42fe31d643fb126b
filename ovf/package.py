"""OVF packages: a descriptor with its files, or an OVA read as a stream.

APPSEC(ovf): an OVA is read member by member with ``tarfile`` in stream
mode and never extracted by member name. Every member must be a regular
file with a plain name, appear once, and be the descriptor (first), its
manifest or certificate, or a file the References name. Files are written
under names we choose (``file-<n>``) in a directory the caller chose.
Nothing is returned before the manifest (when present) has verified the
descriptor and every file: on refusal, written files are deleted.
"""

import os
import re
import stat
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from ovf import certificate, disks, manifest
from ovf.checks import check_envelope, check_href
from ovf.errors import OVFError
from ovf.hardware import drive_files
from ovf.model import Envelope
from ovf.reader import read_envelope
from ovf.streams import FileSink, stored_names
from ovf.xmlsafe import MAX_DESCRIPTOR_BYTES

#: Most bytes a File not backing a Disk (ISO, text) may expand to.
MAX_OTHER_FILE_BYTES = 64 * 1024**3
_CHUNK = re.compile(r"^(.+)\.(\d{9})$")
_TAR_MAGICS = (b"ustar\x0000", b"ustar  \x00")


@dataclass
class Package:
    """A checked package.

    Attributes:
        envelope: The descriptor's content.
        descriptorName: The descriptor's file name.
        signature: Certificate verdict (signed/unsigned/untrusted).
        manifestChecked: True when a manifest verified the package.
        files: File id -> materialized path (only when a destination was given).
        formats: File id -> DiskInfo decided from the bytes, for disk Files.
        absent: File ids not present (descriptor packages inspected only).
    """

    envelope: Envelope
    descriptorName: str
    signature: certificate.Signature
    manifestChecked: bool = False
    files: dict = field(default_factory=dict)
    formats: dict = field(default_factory=dict)
    absent: list = field(default_factory=list)


class _Counted:
    """A read-only file that reports how many bytes were read (for progress)."""

    def __init__(self, raw, report, step=8 * 1024 * 1024):
        self.raw, self.report, self.step, self.done, self._next = raw, report, step, 0, step

    def read(self, size=-1):
        data = self.raw.read(size)
        self.done += len(data)
        if self.done >= self._next or not data:
            self._next = self.done + self.step
            self.report(self.done)
        return data


def open_package(path: str | os.PathLike, dest: str | os.PathLike | None = None,
                 require_files: bool = True, progress=None) -> Package:
    """Read and check a package: an ``.ovf`` descriptor or an OVA.

    Args:
        path: The descriptor or the OVA (decided from the bytes, not the name).
        dest: Directory to write reassembled Files into; None to only check.
        progress: Called with the bytes of an OVA read so far, every few MiB.
        require_files: For a descriptor, refuse when a referenced file is
            absent (an OVA must always hold every file).

    Raises:
        OVFError: on any refusal.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError as exc:
        raise OVFError(f"cannot read {path.name!r}: {exc.strerror}") from None
    if len(head) == 512 and head[257:265] in _TAR_MAGICS:
        return _Reader(path.parent, dest).read_ova(path, progress)
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return _Reader(path.parent, dest).read_directory(path, require_files)
    raise OVFError(f"{path.name!r} is neither a tar archive (OVA) nor an OVF "
                   f"descriptor")


def read_descriptor(path: str | os.PathLike) -> Envelope:
    """Read only a package's descriptor (an OVA's first member), checked.

    Cheap enough to answer a request with (profiles, networks) before the
    whole package is read by :func:`open_package`.

    Raises:
        OVFError: if there is no readable, consistent descriptor.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(512)
            if len(head) == 512 and head[257:265] in _TAR_MAGICS:
                f.seek(0)
                try:
                    member = next(iter(tarfile.open(fileobj=f, mode="r|")), None)
                except tarfile.TarError as exc:
                    raise OVFError(f"OVA is not a readable tar archive: {exc}") from None
                if member is None or not member.isreg() or not member.name.endswith(".ovf"):
                    raise OVFError("OVA's first member is not the OVF descriptor")
                if member.size > MAX_DESCRIPTOR_BYTES:
                    raise OVFError("descriptor is too large")
                f.seek(member.offset_data)
                data = f.read(member.size)
            else:
                data = head + f.read(MAX_DESCRIPTOR_BYTES + 1 - len(head))
                if len(data) > MAX_DESCRIPTOR_BYTES:
                    raise OVFError("descriptor is too large")
    except OSError as exc:
        raise OVFError(f"cannot read {path.name!r}: {exc.strerror}") from None
    env = read_envelope(data)
    check_envelope(env)
    return env


def _disk_limit(env: Envelope, file_id: str) -> int:
    """Budget for the reassembled bytes of a File (gzip-bomb bound)."""
    capacities = [d.capacityBytes for d in env.disks if d.fileRef == file_id]
    if not capacities:
        return MAX_OTHER_FILE_BYTES
    # Sparse formats add metadata (grain tables, markers): allow 1/64 + 1 MiB.
    top = max(capacities)
    return top + top // 64 + 1024 * 1024


class _Reader:
    """One package read; holds the sinks so a refusal can clean up."""

    def __init__(self, root: Path, dest):
        self.root = root
        self.dest = Path(dest) if dest is not None else None
        self.env: Envelope | None = None
        self.descriptor_name = ""
        self.descriptor = b""
        self.manifest_bytes = self.cert_bytes = None
        self.entries: dict | None = None
        self.sinks: dict[str, FileSink] = {}
        self._seen: list[str] = []

    # -- descriptor packages -------------------------------------------------

    def read_directory(self, path: Path, require_files: bool) -> Package:
        self.descriptor_name = path.name
        self.descriptor = self._read_small(path.name, MAX_DESCRIPTOR_BYTES)
        self._load_descriptor()
        stem = path.name.rsplit(".", 1)[0]
        if (self.root / f"{stem}.mf").exists():
            self._set_manifest(self._read_small(f"{stem}.mf",
                                                manifest.MAX_MANIFEST_BYTES))
        if (self.root / f"{stem}.cert").exists():
            self.cert_bytes = self._read_small(f"{stem}.cert",
                                               certificate.MAX_CERT_BYTES)
        absent = []
        try:
            for f in self.env.references:
                names = self._present_pieces(f)
                if not names:
                    if require_files:
                        raise OVFError(f"File {f.href!r} is missing from the package")
                    absent.append(f.id)
                    continue
                sink = self._sink(f)
                for name in names:
                    with self._open_regular(name) as stream:
                        sink.feed(name, stream, os.fstat(stream.fileno()).st_size)
            return self._finish(absent)
        except BaseException:
            self._discard()
            raise

    def _present_pieces(self, f) -> list[str]:
        if not f.chunkSize:
            return [f.href] if (self.root / f.href).exists() else []
        names, index = [], 0
        while True:
            name = stored_names(f, index + 1)[-1]
            if not (self.root / name).exists():
                return names
            names.append(name)
            index += 1

    def _open_regular(self, name: str):
        """Open ``root/name`` refusing symlinks and non-regular files."""
        try:
            fd = os.open(self.root / name, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as exc:
            raise OVFError(f"cannot open {name!r}: {exc.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OVFError(f"{name!r} is not a regular file")
        return os.fdopen(fd, "rb")

    def _read_small(self, name: str, cap: int) -> bytes:
        with self._open_regular(name) as f:
            data = f.read(cap + 1)
        if len(data) > cap:
            raise OVFError(f"{name!r} is larger than {cap} bytes")
        return data

    # -- OVA ----------------------------------------------------------------

    def read_ova(self, path: Path, progress=None) -> Package:
        try:
            with open(path, "rb") as raw:
                try:
                    source = _Counted(raw, progress) if progress else raw
                    archive = tarfile.open(fileobj=source, mode="r|")
                    for index, member in enumerate(archive):
                        self._ova_member(archive, index, member)
                except tarfile.TarError as exc:
                    raise OVFError(f"OVA is not a readable tar archive: {exc}") from None
            if self.env is None:
                raise OVFError("OVA holds no OVF descriptor")
            for f in self.env.references:
                if f.id not in self.sinks:
                    raise OVFError(f"File {f.href!r} is missing from the OVA")
            return self._finish([])
        except BaseException:
            self._discard()
            raise

    def _ova_member(self, archive, index: int, member: tarfile.TarInfo) -> None:
        name = member.name
        why = check_href(name)
        if why:
            raise OVFError(f"OVA member {name!r} refused: not a plain file name")
        if not member.isreg() or member.type == tarfile.CONTTYPE or member.issparse():
            raise OVFError(f"OVA member {name!r} refused: not a regular file")
        if name in self._seen:
            raise OVFError(f"OVA member {name!r} appears twice")
        self._seen.append(name)
        stream = archive.extractfile(member)
        if index == 0:
            if not name.endswith(".ovf"):
                raise OVFError(f"OVA's first member {name!r} is not the "
                               f"OVF descriptor")
            if member.size > MAX_DESCRIPTOR_BYTES:
                raise OVFError("descriptor is too large")
            self.descriptor_name, self.descriptor = name, stream.read()
            self._load_descriptor()
            return
        stem = self.descriptor_name.rsplit(".", 1)[0]
        if name == f"{stem}.mf" and self.entries is None:
            self._set_manifest(stream.read(manifest.MAX_MANIFEST_BYTES + 1))
        elif name == f"{stem}.cert" and self.cert_bytes is None:
            self.cert_bytes = stream.read(certificate.MAX_CERT_BYTES + 1)
        elif self._owner(name) is not None:
            self._sink(self._owner(name)).feed(name, stream, member.size)
        else:
            raise OVFError(f"OVA member {name!r} is not referenced by the descriptor")

    # -- shared ---------------------------------------------------------------

    def _load_descriptor(self) -> None:
        self.env = read_envelope(self.descriptor)
        check_envelope(self.env)

    def _owner(self, name: str):
        """Return the File stored under ``name`` (href or chunk name)."""
        chunk = _CHUNK.match(name)
        for f in self.env.references:
            if f.chunkSize and chunk and chunk.group(1) == f.href:
                return f
            if not f.chunkSize and name == f.href:
                return f
        return None

    def _set_manifest(self, data: bytes) -> None:
        self.manifest_bytes = data
        self.entries = manifest.parse_manifest(data, self.env.ovfVersion)
        digests = manifest.Digests({e.algorithm for e in self.entries.values()})
        digests.update(self.descriptor)
        # The descriptor is checked as soon as the manifest is known.
        manifest.verify(self.entries, self.descriptor_name, digests)

    def _sink(self, f) -> FileSink:
        if f.id not in self.sinks:
            index = self.env.references.index(f)
            dest = self.dest / f"file-{index}" if self.dest is not None else None
            algorithms = ({e.algorithm for e in self.entries.values()}
                          if self.entries else None)
            self.sinks[f.id] = FileSink(f, dest, _disk_limit(self.env, f.id),
                                        algorithms)
        return self.sinks[f.id]

    def _finish(self, absent: list[str]) -> Package:
        for sink in self.sinks.values():
            sink.finish()
        stored = {n for s in self.sinks.values() for n in s.digests}
        if self.entries is not None:
            expected = {self.descriptor_name} | stored
            for f in self.env.references:
                if f.id in absent:
                    expected |= {n for n in self.entries
                                 if getattr(self._owner(n), "id", None) == f.id}
            manifest.check_coverage(self.entries, expected)
            for sink in self.sinks.values():
                for name, digests in sink.digests.items():
                    manifest.verify(self.entries, name, digests)
        stem = self.descriptor_name.rsplit(".", 1)[0]
        signature = certificate.check_certificate(
            self.cert_bytes, self.manifest_bytes, f"{stem}.mf")
        formats = self._check_disk_formats()
        return Package(self.env, self.descriptor_name, signature,
                       self.entries is not None,
                       {i: s.dest for i, s in self.sinks.items() if s.dest},
                       formats, absent)

    def _check_disk_formats(self) -> dict:
        """Decide the format of every File a disk stands on, by its bytes."""
        formats = {}
        for disk in self.env.disks:
            sink = self.sinks.get(disk.fileRef)
            if sink is None:
                continue
            info = self._decide(disk.format, sink)
            size = info.virtualSize
            if size > disk.capacityBytes:
                raise OVFError(f"Disk {disk.diskId!r} holds {size} bytes, more "
                               f"than its ovf:capacity {disk.capacityBytes}")
            formats[disk.fileRef] = info
        for file_id in drive_files(self.env):      # drives on a File, no Disk
            sink = self.sinks.get(file_id)
            if sink is not None and file_id not in formats:
                formats[file_id] = self._decide(None, sink)
        return formats

    @staticmethod
    def _decide(declared, sink) -> disks.DiskInfo:
        info = disks.decide_format(declared, disks.inspect_head(bytes(sink.head)))
        if info.virtualSize is None:
            info = disks.DiskInfo(info.format, sink.size)
        return info

    def _discard(self) -> None:
        for sink in self.sinks.values():
            sink.discard()
