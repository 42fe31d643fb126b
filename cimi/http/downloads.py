"""Finished OVF exports, served read-only at GET /cimi/exports/<name>.ova.

A package is served only while its ExportedPackage resource exists, to the
owner of that resource (or an admin). Anyone else, and any name we would not
have written, gets 404, so the directory cannot be probed. The file is opened
without following symlinks and streamed (resp.stream), never read into memory.
One byte range (RFC 9110 14.1.2) is served as a 206, so a large download
resumes; a range past the end is a 416.
"""
import io
import os
import stat

import falcon

from cimi import crud, errors, registry
from cimi.ops import exported_packages

CONTENT_TYPE = "application/x-tar"


def _range(req, size):
    """The (first, last) bytes asked for by a Range header, inclusive; None for the whole file."""
    try:
        asked = req.range
    except falcon.HTTPInvalidHeader:
        raise errors.BadRequest("Range must be one range of bytes, e.g. bytes=1048576-") from None
    if asked is None or req.range_unit != "bytes":
        return None
    first, last = asked
    if first < 0:                                   # a suffix: the last -first bytes
        first, last = max(size + first, 0), size - 1
    if first >= size or (last != -1 and last < first):
        raise errors.RangeNotSatisfiable(f"the package has {size} bytes", headers={"Content-Range": f"bytes */{size}"})
    return first, size - 1 if last == -1 else min(last, size - 1)


class _Slice(io.RawIOBase):
    """`length` bytes of an open file, from where it stands (what a 206 sends)."""

    def __init__(self, f, length):
        self.f, self.left = f, length

    def readable(self):
        return True

    def read(self, size=-1):
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.f.read(size)
        self.left -= len(data)
        return data

    def close(self):
        self.f.close()
        super().close()


class Exports:
    """GET/HEAD /cimi/exports/{name}: one exported OVA."""

    def __init__(self, cloud):
        self.cloud = cloud

    def _open(self, req, name):
        path = exported_packages.file_of(self.cloud, exported_packages.readable(req.context.ctx, name))
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError:
            raise errors.NotFound(f"exported package {name} is no longer there") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise errors.NotFound(f"no exported package {name}")
        return os.fdopen(fd, "rb"), info.st_size

    def _headers(self, resp, name, size):
        resp.content_type = CONTENT_TYPE
        resp.content_length = size
        resp.set_header("Accept-Ranges", "bytes")
        resp.set_header("Content-Disposition", f'attachment; filename="{name}"')
        resp.set_header("Cache-Control", "private, no-store")

    def on_get(self, req, resp, name):
        stream, size = self._open(req, name)
        try:
            wanted = _range(req, size)
        except errors.CimiError:
            stream.close()
            raise
        self._headers(resp, name, size)
        if wanted is None:
            resp.stream = stream           # falcon reads it in chunks and closes it
            return
        first, last = wanted
        stream.seek(first)
        resp.status = falcon.HTTP_206
        resp.content_length = last - first + 1
        resp.content_range = (first, last, size)
        resp.stream = _Slice(stream, last - first + 1)

    def on_delete(self, req, resp, name):
        """DELETE of the download deletes its ExportedPackage (and the file)."""
        ctx = req.context.ctx
        crud.delete(ctx, registry.get(exported_packages.KIND), exported_packages.readable(ctx, name))
        resp.status = falcon.HTTP_200

    def on_head(self, req, resp, name):
        stream, size = self._open(req, name)
        stream.close()
        self._headers(resp, name, size)
