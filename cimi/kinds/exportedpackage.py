"""ExportedPackage (a provider extension): the OVAs exports wrote, as resources of their owner.

The export Job records one row per OVA it writes; its owner lists it, downloads it
(cimi/downloads.py, with Range requests) and deletes it, which removes the file. Rows
and files older than Config.export_retention are removed by `expire`, which the
reconciliation loop and every new export run.
"""
import datetime
import os

from cimi import registry, represent, store
from cimi.registry import Kind, register

KIND = "ExportedPackage"


def _file(cloud, row):
    from cimi.kinds.ovfexport import export_root
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


def _delete(ctx, row):
    """Deleting the resource deletes the OVA at once (no Job: it is one unlink)."""
    _file(ctx.cloud, row).unlink(missing_ok=True)


def expire(cloud, now=None):
    """Remove the packages whose retention has passed; return how many."""
    now = (now or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    gone = 0
    for row in store.rows(KIND):
        if row["data"].get("expires", "") <= now:
            _file(cloud, row).unlink(missing_ok=True)
            store.delete(KIND, row["id"])
            gone += 1
    return gone


register(Kind(KIND, "exportedPackages", editable=False, delete=_delete))
