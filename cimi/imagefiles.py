"""Registering disk image files as MachineImages: from the import directory or an upload.

Both ways end the same: the bytes are first copied to a private staging
file under data_dir (counting bytes and hashing as they stream, so the
declared checksum is checked on exactly what is used, and nobody can
change the file between our checks and the backend's upload), then the
format is decided from the bytes (ovf/disks.py), vmdk is converted to
qcow2 with an explicit input format, and the result goes to the backend.

APPSEC: images with a backing file, an external data file or a format
other than the declared one are refused (ovf/disks.py); only files under
the import directory are read (cimi/ops/ovf_import.py source_path).
"""
import os
import re
import uuid
from dataclasses import dataclass
from typing import BinaryIO

from cimi import errors
from ovf import disks as ovf_disks
from ovf.errors import OVFError
from ovf.manifest import Digests

CHUNK = 1 << 20
FORMATS = ("qcow2", "raw", "vmdk")
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


@dataclass(frozen=True)
class Upload:
    """Raw bytes POSTed to a collection, as plain data: cimi/http builds it from the request."""
    stream: BinaryIO                # read(n) returns up to n bytes, b"" at the end
    length: int | None              # the declared Content-Length, if any
    media_type: str                 # lower case, without parameters
    params: dict                    # query parameters, name -> value (str)


def staging_path(config):
    """A new file name under data_dir/uploads (the directory is made)."""
    root = os.path.join(config.data_dir, "uploads")
    os.makedirs(root, mode=0o700, exist_ok=True)
    return os.path.join(root, f"{uuid.uuid4().hex}.part")


def checked_sha256(value):
    """Validate a declared SHA-256 (64 hex digits); return it lower-case, or None."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not _HEX64.match(value.strip()):
        raise errors.BadRequest("sha256 must be 64 hexadecimal digits")
    return value.strip().lower()


def checked_format(value):
    """Validate a declared format; return it, or None when not declared."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or value.strip().lower() not in FORMATS:
        raise errors.BadRequest(f"format must be one of {', '.join(FORMATS)}")
    return value.strip().lower()


def receive(config, upload, noun, expected_sha256=None):
    """Stage an Upload (an image or a package); return (staged path, bytes, sha256 hex).

    413 before reading anything when the declared length is over max_upload,
    else as `stage` (noun names what is limited: "images", "packages").
    """
    limit = config.max_upload
    if upload.length is not None and upload.length > limit:
        raise errors.PayloadTooLarge(f"{noun} are limited to {limit} bytes")
    staged = staging_path(config)
    size, digest = stage(upload.stream.read, staged, limit, expected_sha256, noun=noun)
    return staged, size, digest


def stage(read, dest, limit, expected_sha256=None, keepalive=None, noun="images"):
    """Copy a byte stream into dest, sparse where it is zero; return (bytes, sha256 hex).

    read(n) returns up to n bytes (b"" at the end). Raises 413 past limit
    bytes and 400 when the digest differs from expected_sha256; dest is
    removed in both cases.
    """
    digest, size = Digests(["SHA256"]), 0
    try:
        with open(dest, "wb") as out:
            while True:
                chunk = read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise errors.PayloadTooLarge(f"{noun} are limited to {limit} bytes")
                digest.update(chunk)
                if chunk.count(0) == len(chunk):
                    out.seek(CHUNK, os.SEEK_CUR)         # keep sparse images sparse
                else:
                    out.write(chunk)
                if keepalive and size % (256 * CHUNK) < len(chunk):
                    keepalive()
            out.truncate(size)
        found = digest.hexdigest("SHA256")
        if expected_sha256 and found != expected_sha256:
            raise errors.BadRequest(f"checksum mismatch: the declared sha256 is {expected_sha256}, "
                                    f"the {size} bytes received hash to {found}")
        if size == 0:
            raise errors.BadRequest("the image is empty")
    except BaseException:
        remove(dest)
        raise
    return size, found


def stage_file(path, dest, limit, expected_sha256=None, keepalive=None):
    """Stage a local file (see `stage`)."""
    with open(path, "rb") as source:
        if os.fstat(source.fileno()).st_size > limit:
            raise errors.PayloadTooLarge(f"images are limited to {limit} bytes")
        return stage(source.read, dest, limit, expected_sha256, keepalive)


def decide(path, declared=None):
    """Inspect a staged file; return its DiskInfo, or raise 400 saying why it is refused."""
    try:
        found = ovf_disks.inspect_file(path)
        if declared == "vmdk" and found.format.startswith("vmdk"):
            return found
        return ovf_disks.decide_format(declared, found)
    except OVFError as exc:
        raise errors.BadRequest(f"image refused: {exc}") from None


def register(backend, name, staged, declared=None):
    """Store a staged image file in the backend as qcow2 or raw; return its ImageInfo.

    The staged file (and any conversion) is removed whatever happens.
    """
    converted = None
    try:
        found = decide(staged, declared)
        source, fmt = staged, found.qemuFormat
        if fmt == "vmdk":
            converted = staged + ".qcow2"
            try:
                found = ovf_disks.convert_to_qcow2(staged, converted, found)
            except OVFError as exc:
                raise errors.BadRequest(f"image refused: {exc}") from None
            source, fmt = converted, "qcow2"
        return backend.create_image(name, found.virtualSize or os.path.getsize(source),
                                    source_path=source, source_format=fmt)
    finally:
        remove(staged)
        if converted:
            remove(converted)


def remove(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
