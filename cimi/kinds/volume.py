"""Volume and VolumeImage: block storage in the backend's pool (operations: cimi/ops/volumes.py).

A VolumeImage POSTed with a Volume's href as imageLocation is a snapshot of
that Volume (DSP0263 5.15.8.1).
"""
from cimi.ops import quarantine, volumes
from cimi.registry import Kind, register
from cimi.store.links import KEEP, Link

register(Kind("Volume", "volumes", create_schema="VolumeCreate", create=volumes.prepare,
              metered={"capacity": "capacity"},
              delete=lambda ctx, row: quarantine.instead(ctx, "volumes", row, volumes.check_delete(ctx, row)),
              refresh=volumes.refresh,
              deletable_states=frozenset({"AVAILABLE", "ERROR", "CREATING"}),   # CREATING: cancel
              deletable=volumes.free,                                          # not while attached (409)
              jobs={"create": volumes.create, "delete": volumes.delete, "quarantine": quarantine.keep_volume},
              capabilities=(("VolumeTemplateByValue", "true", "volumeTemplate may be given by value"),
                            ("VolumeConfigByValue", "true", "volumeConfig may be given by value"),
                            ("VolumeImageByValue", "false", "volumeImage must be a reference"),
                            ("SharedVolumeSupport", "false", "a Volume attaches to one Machine at a time"),
                            ("VolumeSnapshot", "true", "POST a VolumeImage whose imageLocation is the Volume's href"))))
register(Kind("VolumeImage", "volumeImages", create_schema="VolumeImage", create=volumes.prepare_snapshot,
              delete=lambda ctx, row: volumes.delete_image, refresh=volumes.snapshot_failed,
              deletable_states=frozenset({"AVAILABLE", "ERROR"}),
              jobs={"snapshot": volumes.snapshot, "delete": volumes.delete_image},
              links=(Link("_volume", "Volume", KEEP),)))
