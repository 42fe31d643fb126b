"""ExportedPackage operations: the OVAs exports wrote, recorded as rows of their owner, and expired.

The export Job records one row per OVA it writes; its owner lists it, downloads it
(cimi/http/downloads.py, with Range requests) and deletes it, which removes the file. Rows
and files older than Config.export_retention are removed by `expire`, which the
reconciliation loop and every new export run.
"""
import datetime
import re
from pathlib import Path

from cimi import errors, registry, represent, store

KIND = "ExportedPackage"
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,200}\.ova$")


def export_root(cloud):
    return Path(cloud.config.export_dir).resolve()


def is_package_name(name):
    """Whether name is one we would create in the export directory (plain, .ova, no dot first)."""
    return bool(_NAME.match(name or ""))


def file_of(cloud, row):
    """The path of a row's OVA (under the export directory)."""
    return export_root(cloud) / row["data"]["_file"]


def record(job, path, source_href, download_href):
    """Record the OVA an export Job wrote at `path`; return the row's href."""
    retention = datetime.timedelta(seconds=job.ctx.cloud.config.export_retention)
    expires = datetime.datetime.now(datetime.timezone.utc) + retention
    row = store.insert(KIND, {"owner": job.owner, "name": path.name, "state": "AVAILABLE",
                              "description": f"export of {source_href.rsplit('/', 1)[-1]}",
                              "data": {"source": {"href": source_href}, "package": {"href": download_href},
                                       "size": path.stat().st_size,
                                       "expires": expires.strftime("%Y-%m-%dT%H:%M:%SZ"), "_file": path.name}})
    return represent.href(job.ctx, registry.get(KIND), row)


def by_file(name):
    """The row of the OVA named `name`, or None."""
    return store.first(KIND, name=name)


def readable(ctx, name):
    """The row of the OVA `name` that ctx's user may read; 404 for any other name, so nothing can be probed."""
    row = by_file(name) if is_package_name(name) else None
    if row is None or not represent.can_read(ctx.user, KIND, row):
        raise errors.NotFound(f"no exported package {name}")
    return row


def delete(ctx, row):
    """Deleting the resource deletes the OVA at once (no Job: it is one unlink)."""
    file_of(ctx.cloud, row).unlink(missing_ok=True)


def expire(cloud, now=None):
    """Remove the packages whose retention has passed; return how many."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gone = 0
    for row in store.rows(KIND):
        if row["data"].get("expires", "") <= now:
            file_of(cloud, row).unlink(missing_ok=True)
            store.delete(KIND, row["id"])
            gone += 1
    return gone
