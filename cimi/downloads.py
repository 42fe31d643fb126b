"""Finished OVF exports, served read-only at GET /cimi/exports/<name>.ova.

A package is served only to the owner of the export Job that made it (or
an admin): the Job that lists the download href in its affectedResources
and ended in SUCCESS. Anyone else, and any name we would not have written,
gets 404, so the directory cannot be probed. The file is opened without
following symlinks and streamed (resp.stream), never read into memory.
"""
import os
import stat

from cimi import db, errors, represent, store
from cimi.kinds.ovfexport import DOWNLOADS, export_root, is_package_name

CONTENT_TYPE = "application/x-tar"
EXPORT_HANDLERS = ("Machine.export", "System.export")


def _exported_by(ctx, name):
    """The SUCCESS export Job that wrote `name` and the caller may read, or None."""
    jobs = db.model_for("Job")
    needle = f'{DOWNLOADS}/{name}"'
    query = jobs.select().where(jobs.data.contains(needle) & (jobs.state == "SUCCESS")
                                & jobs.handler.in_(EXPORT_HANDLERS))
    for record in query:
        row = store.to_row(record)
        hrefs = [a.get("href", "") for a in row["data"].get("affectedResources", ())]
        if any(h.endswith(f"/{DOWNLOADS}/{name}") for h in hrefs) and represent.can_read(ctx.user, row):
            return row
    return None


class Exports:
    """GET/HEAD /cimi/exports/{name}: one exported OVA."""

    def __init__(self, cloud):
        self.cloud = cloud

    def _open(self, req, name):
        ctx = req.context.ctx
        if not is_package_name(name) or _exported_by(ctx, name) is None:
            raise errors.NotFound(f"no exported package {name}")
        try:
            fd = os.open(export_root(self.cloud) / name, os.O_RDONLY | os.O_NOFOLLOW)
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
        resp.set_header("Content-Disposition", f'attachment; filename="{name}"')
        resp.set_header("Cache-Control", "private, no-store")

    def on_get(self, req, resp, name):
        stream, size = self._open(req, name)
        self._headers(resp, name, size)
        resp.stream = stream               # falcon reads it in chunks and closes it

    def on_head(self, req, resp, name):
        stream, size = self._open(req, name)
        stream.close()
        self._headers(resp, name, size)
