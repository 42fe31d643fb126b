"""Backends: the hypervisor side of the cloud, behind one narrow interface.

The CIMI front end (cimi/) calls only what `backends.base.Backend` declares and
gets plain data objects (`backends.model`) back, or a `BackendError` subclass.
"""
from backends.base import Backend, BackendError, NotFound, Conflict, Unavailable, Unsupported  # noqa: F401


def open_backend(uri, **options):
    """Open the backend serving a hypervisor URI (libvirt URIs today)."""
    from backends.libvirt import LibvirtBackend
    return LibvirtBackend(uri, **options)
