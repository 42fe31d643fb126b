"""The libvirt backend: `LibvirtBackend(uri, image_pool, volume_pool, hosts)`.

Layout (after nova's libvirt driver, without its 10,000-line driver.py):
`host` owns connections and translates errors, `xml` describes elements,
`designer` makes the policy choices, and `machines`, `volumes` and
`networks` hold the calls for one resource kind each.
"""
from backends.libvirt.backend import LibvirtBackend, default_pool  # noqa: F401
