"""Reassemble one References/File from its stored pieces, with flat memory.

A File is stored as one piece (``href``) or as chunks (``href.000000000``,
``href.000000001``, … of ``ovf:chunkSize`` bytes, DSP0243 clause 7.1) and
may be gzip-compressed (``ovf:compression="gzip"``; chunks are pieces of
the compressed stream). :class:`FileSink` takes the pieces in order,
hashes each stored piece for the manifest, inflates with a byte budget
(APPSEC(ovf): a 1 KiB gzip can claim terabytes), writes the result to a
path chosen by the caller and keeps the first bytes for disk inspection.
"""

import os
import zlib
from pathlib import Path

from ovf import disks
from ovf.errors import OVFError
from ovf.manifest import Digests
from ovf.model import File

BLOCK = 1024 * 1024


def stored_names(f: File, count: int | None = None) -> list[str]:
    """Names under which File ``f`` is stored in the package.

    Args:
        f: The File.
        count: For a chunked File, how many chunks to name; when None, the
            number implied by ``ovf:size`` and ``ovf:chunkSize``.
    """
    if not f.chunkSize:
        return [f.href]
    if count is None:
        size = f.size or 0
        count = max(1, -(-size // f.chunkSize))
    return [f"{f.href}.{i:09d}" for i in range(count)]


class FileSink:
    """Receive the stored pieces of one File and materialize it.

    Args:
        f: The File being reassembled.
        dest: Output path, or None to only hash and inspect.
        limit: Most bytes the reassembled (inflated) file may have.
        algorithms: Digest algorithms to compute (None: all).
    """

    def __init__(self, f: File, dest: Path | None, limit: int, algorithms=None):
        self.file = f
        self.dest = dest
        self.limit = limit
        self.algorithms = algorithms
        self.digests: dict[str, Digests] = {}
        self.stored = 0
        self.size = 0
        self.head = bytearray()
        self._next_chunk = 0
        self._short_chunk = False
        self._out = open(dest, "xb") if dest is not None else None
        self._inflater = (zlib.decompressobj(16 + zlib.MAX_WBITS)
                          if f.compression == "gzip" else None)

    def feed(self, name: str, stream, declared: int | None = None) -> None:
        """Consume one stored piece, in order.

        Args:
            name: The stored name (href or chunk name).
            stream: A binary file object positioned at the piece's start.
            declared: The piece's size as the container states it (tar
                member size), checked before reading when known.
        """
        expected = stored_names(self.file, self._next_chunk + 1)[-1]
        if name != expected:
            raise OVFError(f"{name!r} arrives out of order (expected {expected!r})")
        if self._short_chunk:
            raise OVFError(f"{name!r} follows a chunk shorter than ovf:chunkSize")
        self._next_chunk += 1
        cap = self.file.chunkSize or self.file.size
        if declared is not None and cap is not None and (
                declared > cap or (not self.file.chunkSize and declared != cap)):
            raise OVFError(f"{name!r} is {declared} bytes, but the descriptor "
                           f"declares {cap}")
        digests = self.digests[name] = Digests(self.algorithms)
        piece = 0
        while True:
            block = stream.read(BLOCK)
            if not block:
                break
            piece += len(block)
            if cap is not None and piece > cap:
                raise OVFError(f"{name!r} is larger than the {cap} bytes the "
                               f"descriptor declares")
            self.stored += len(block)
            if self.file.size is not None and self.stored > self.file.size:
                raise OVFError(f"File {self.file.id!r} is larger than its "
                               f"declared ovf:size {self.file.size}")
            digests.update(block)
            self._inflate(block)
        # Every chunk but the last is exactly ovf:chunkSize (clause 7.1).
        self._short_chunk = bool(self.file.chunkSize) and piece != self.file.chunkSize

    def _inflate(self, block: bytes) -> None:
        if self._inflater is None:
            self._emit(block)
            return
        data = block
        while data:
            if self._inflater.eof:
                raise OVFError(f"File {self.file.id!r} has data after its "
                               f"gzip stream")
            out = self._inflater.decompress(data, BLOCK)
            self._emit(out)
            data = self._inflater.unconsumed_tail
        if self._inflater.eof and self._inflater.unused_data:
            raise OVFError(f"File {self.file.id!r} has data after its gzip stream")

    def _emit(self, out: bytes) -> None:
        self.size += len(out)
        if self.size > self.limit:
            raise OVFError(f"File {self.file.id!r} expands beyond {self.limit} "
                           f"bytes, more than its disk can hold")
        if len(self.head) < disks.HEAD_BYTES:
            self.head += out[:disks.HEAD_BYTES - len(self.head)]
        if self._out is not None:
            self._out.write(out)

    def finish(self) -> None:
        """Check the totals once every piece has been fed.

        Raises:
            OVFError: on a size mismatch or a truncated gzip stream.
        """
        self.close()
        if self.file.size is not None and self.stored != self.file.size:
            raise OVFError(f"File {self.file.id!r} is {self.stored} bytes, but "
                           f"ovf:size says {self.file.size}")
        if self._inflater is not None and not self._inflater.eof:
            raise OVFError(f"File {self.file.id!r} is a truncated gzip stream")

    def close(self) -> None:
        """Close the output (idempotent)."""
        if self._out is not None:
            self._out.close()
            self._out = None

    def discard(self) -> None:
        """Close and delete the output after a refusal."""
        self.close()
        if self.dest is not None and self.dest.exists():
            os.unlink(self.dest)
