"""file: URIs naming files on this host, and the sandbox they must stay in.

APPSEC: the import directory (read) and the export directory (written) are
the only places a user may name; a URI is turned into a path in one way
(cimi/ops/ovf_import.py, cimi/ops/images.py and cimi/ops/ovf_export.py
use it) and the path checked after symlinks are resolved.
"""
from pathlib import Path
from urllib.parse import unquote, urlparse


def uri_path(uri, root, schemes=("file",)):
    """The path a local file URI names (a relative one under root), or None when it names no local file.

    schemes: "" lets a bare path through. A host other than localhost, a
    query or a fragment are refused: this provider fetches nothing.
    """
    parsed = urlparse((uri or "").strip())
    if parsed.scheme not in schemes or parsed.netloc not in ("", "localhost") or parsed.query or parsed.fragment:
        return None
    path = Path(unquote(parsed.path))
    return path if path.is_absolute() else Path(root) / path


def inside(root, path):
    """Whether path, symlinks resolved, lies under root (itself excluded; taken as given, so a symlinked
    user directory under a resolved import directory leads nowhere)."""
    return Path(root) in Path(path).resolve().parents
