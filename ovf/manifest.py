"""OVF manifests (``.mf``): parse them and check digests and coverage.

DSP0243 clause 5.1: one line per file, ``SHA256(name)= hex`` (1.x wrote
SHA1; 2.x adds SHA256/SHA512). The manifest shall cover the descriptor and
every file in References "and no other files". We also accept the BSD
spelling ``SHA256 (name) = hex`` and CRLF line ends, as virt-v2v does.
"""

import hashlib
import re
from dataclasses import dataclass

from ovf.errors import OVFError

#: Read size when hashing a file.
CHUNK = 1 << 20
#: Manifest files larger than this are not manifests.
MAX_MANIFEST_BYTES = 1024 * 1024

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256,
              "SHA512": hashlib.sha512}
_HEX_LENGTH = {"SHA1": 40, "SHA256": 64, "SHA512": 128}
_LINE = re.compile(r"^(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)$")


@dataclass(frozen=True)
class Entry:
    """One manifest line: the algorithm and expected digest of a file."""

    algorithm: str
    digest: str


def parse_manifest(data: bytes, ovf_version: str | None = None) -> dict[str, Entry]:
    """Parse manifest bytes into ``{file name: Entry}``.

    Args:
        data: The manifest bytes.
        ovf_version: The descriptor's dialect; SHA1 is refused for "2.x"
            (DSP0243 2.x requires SHA256 or SHA512).

    Raises:
        OVFError: on a malformed line, a duplicate entry, a wrong digest
            length or a weak algorithm.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise OVFError("manifest is too large")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise OVFError("manifest is not UTF-8 text") from None
    entries: dict[str, Entry] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        match = _LINE.match(line)
        if not match:
            raise OVFError(f"manifest line {number} is not 'ALG(name)= hex'")
        algorithm, name, digest = match.groups()
        if len(digest) != _HEX_LENGTH[algorithm]:
            raise OVFError(f"manifest line {number}: {algorithm} digest of "
                           f"wrong length")
        if algorithm == "SHA1" and ovf_version == "2.x":
            raise OVFError("manifest uses SHA1, which OVF 2.x does not allow")
        if name in entries:
            raise OVFError(f"manifest lists {name!r} twice")
        entries[name] = Entry(algorithm, digest.lower())
    if not entries:
        raise OVFError("manifest is empty")
    return entries


def check_coverage(entries: dict[str, Entry], expected: set[str]) -> None:
    """Require the manifest to list exactly the package's files.

    Args:
        entries: The parsed manifest.
        expected: The descriptor name plus every stored file name (chunk
            names for chunked Files).

    Raises:
        OVFError: naming files missing from, or unknown to, the manifest.
    """
    missing = sorted(expected - set(entries))
    extra = sorted(set(entries) - expected)
    if missing:
        raise OVFError(f"manifest does not list {', '.join(missing)}")
    if extra:
        raise OVFError(f"manifest lists files not in the package: "
                       f"{', '.join(extra)}")


class Digests:
    """Hash a stream with every algorithm a manifest might ask for.

    When the manifest is not known yet (it may come last in an OVA), all
    three are computed; otherwise only the one needed.
    """

    def __init__(self, algorithms=None):
        self._hashes = {a: ALGORITHMS[a]() for a in (algorithms or ALGORITHMS)}

    def update(self, block: bytes) -> None:
        """Feed the next block of the stored bytes."""
        for h in self._hashes.values():
            h.update(block)

    def hexdigest(self, algorithm: str) -> str:
        """Return the digest for ``algorithm``."""
        return self._hashes[algorithm].hexdigest()


def file_digest(path, algorithm: str = "SHA256", keepalive=None) -> str:
    """The hex digest of a file, read in chunks (memory stays flat); ``keepalive()`` every 256 MiB."""
    digests = Digests([algorithm])
    with open(path, "rb") as f:
        for n, chunk in enumerate(iter(lambda: f.read(CHUNK), b"")):
            digests.update(chunk)
            if keepalive is not None and n % 256 == 0:
                keepalive()
    return digests.hexdigest(algorithm)


def verify(entries: dict[str, Entry], name: str, digests: Digests) -> None:
    """Compare one file's digests with its manifest entry.

    Raises:
        OVFError: if the file is not listed or its digest differs.
    """
    entry = entries.get(name)
    if entry is None:
        raise OVFError(f"manifest does not list {name!r}")
    if digests.hexdigest(entry.algorithm) != entry.digest:
        raise OVFError(f"{entry.algorithm} digest of {name!r} does not match "
                       f"the manifest")
