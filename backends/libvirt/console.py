"""The serial console log of a machine: its last lines, read from the host's disk.

virtlogd writes the file named by the domain's `<serial><log file=...>` and
rotates it (designer.CONSOLE_DIR says how), so the newest lines are in the
file itself and, just after a rotation, in `<file>.0`. The guest writes what
it likes: bytes are decoded as UTF-8 with replacement, never trusted.
"""
import glob
import logging
import os

from backends.base import Unsupported

LOG = logging.getLogger(__name__)
BLOCK = 64 * 1024


def tail(path, lines):
    """Return the last `lines` lines of a console log and its newest backup."""
    data = _last_lines(path, lines)
    if data.count(b"\n") <= lines:
        data = _last_lines(path + ".0", lines) + data
    return b"".join(data.splitlines(keepends=True)[-lines:]).decode("utf-8", errors="replace")


def _last_lines(path, lines):
    """Return at least the last `lines` lines of one file, read from its end; b"" when absent."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise Unsupported(f"cannot read the console log {path}: {exc.strerror}; the server must be "
                          "able to read the console directory (--console-dir)") from None
    with f:
        end = f.seek(0, os.SEEK_END)
        data = b""
        while end > 0 and data.count(b"\n") <= lines:
            start = max(0, end - BLOCK)
            f.seek(start)
            data = f.read(end - start) + data
            end = start
    return data


def remove(path):
    """Delete a console log and its rotated backups (a deleted machine's)."""
    for name in [path, *glob.glob(glob.escape(path) + ".[0-9]*")]:
        try:
            os.unlink(name)
        except FileNotFoundError:
            pass
        except OSError as exc:          # NOTE: a log left behind must not fail the delete
            LOG.warning("cannot remove console log %s: %s", name, exc.strerror)
