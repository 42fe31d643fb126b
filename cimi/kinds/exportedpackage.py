"""ExportedPackage (a provider extension): the OVAs exports wrote, as resources of their owner.

Recorded by the export Job and removed (with the file) by a DELETE or when they
expire: cimi/ops/exported_packages.py.
"""
from cimi.ops import exported_packages
from cimi.registry import Kind, register

register(Kind(exported_packages.KIND, "exportedPackages", editable=False, delete=exported_packages.delete))
