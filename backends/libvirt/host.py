"""The Host: the one owner of a libvirt connection, and the error edge.

Everything that talks to libvirt gets its connection from a `Host`, which
reopens it when libvirtd restarted or the socket closed, and runs inside
`translate()`, which turns `libvirt.libvirtError` into `backends.base` errors.
Nothing above this layer sees a libvirt exception.
"""
import contextlib
import logging
import os
import re
import threading
import time
import urllib.parse

import libvirt

from backends import model
from backends.base import BackendError, Conflict, NotFound, Unavailable
from backends.libvirt import designer, xml

LOG = logging.getLogger(__name__)
POOL_BUSY_WAIT = 60.0      # seconds a pool refresh waits for the volumes libvirt builds in it

# Silence libvirt's default handler, which prints every error on stderr even
# when the caller handles the exception.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

_NOT_FOUND = {libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_NO_STORAGE_POOL,
              libvirt.VIR_ERR_NO_STORAGE_VOL, libvirt.VIR_ERR_NO_NETWORK,
              libvirt.VIR_ERR_NO_DOMAIN_SNAPSHOT}
_CONFLICT = {libvirt.VIR_ERR_OPERATION_INVALID, libvirt.VIR_ERR_DOM_EXIST,
             libvirt.VIR_ERR_NETWORK_EXIST, libvirt.VIR_ERR_STORAGE_VOL_EXIST,
             libvirt.VIR_ERR_OPERATION_DENIED}
_UNAVAILABLE = {libvirt.VIR_ERR_NO_CONNECT, libvirt.VIR_ERR_INVALID_CONN,
                libvirt.VIR_ERR_RPC, libvirt.VIR_ERR_AUTH_FAILED,
                libvirt.VIR_ERR_OPERATION_TIMEOUT}
_UNAVAILABLE_DOMAINS = {libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE}
# Codes a driver returns for a call or flag it does not implement.
UNSUPPORTED = {libvirt.VIR_ERR_NO_SUPPORT, libvirt.VIR_ERR_INVALID_ARG,
               libvirt.VIR_ERR_ARGUMENT_UNSUPPORTED}


# NOTE: when QEMU refuses to start, libvirt wraps its words: "internal error: qemu
# unexpectedly closed the monitor: 2026-11-29T11:46:25.399072Z qemu-system-x86_64: cannot
# set up guest memory 'pc.ram': Cannot allocate memory". Users need only QEMU's part.
_QEMU_WRAPPER = re.compile(r"^internal error: (?:qemu unexpectedly closed the monitor|"
                           r"process exited while connecting to monitor): (?:\d{4}-\d\d-\d\dT[\d:.]+Z )?")


def error_from(exc):
    """Map one libvirtError to the backend error the caller should see."""
    code, where = exc.get_error_code(), exc.get_error_domain()
    message = _QEMU_WRAPPER.sub("", (exc.get_error_message() or str(exc)).strip())
    if code in _NOT_FOUND:
        return NotFound(message)
    if code in _CONFLICT:
        return Conflict(message)
    if code in _UNAVAILABLE or (code == libvirt.VIR_ERR_SYSTEM_ERROR and where in _UNAVAILABLE_DOMAINS):
        return Unavailable(message)
    return BackendError(message)


@contextlib.contextmanager
def translate():
    """Re-raise any libvirtError inside the block as a backend error."""
    try:
        yield
    except libvirt.libvirtError as exc:
        raise error_from(exc) from exc


def is_unsupported(exc):
    """Tell whether a libvirtError means "this driver cannot do that"."""
    return exc.get_error_code() in UNSUPPORTED


class Host:
    """One hypervisor: a URI, its connection, and lookups by our keys.

    Args:
        name: the name placement uses (HostInfo.name, MachineSpec.host).
        uri: the libvirt URI.
        domain_type: force a domain type ("kvm", "qemu"); None picks from the
            capabilities (designer.DOMAIN_TYPES).
        console_dir: where serial console logs go on the host (None: where
            libvirt keeps the daemon's logs, `default_console_dir`).
    """

    def __init__(self, name, uri, domain_type=None, console_dir=None):
        self.name, self.uri = name, uri
        self.console_dir = console_dir or default_console_dir(uri)
        self._forced_type = domain_type
        self._conn = None
        self._lock = threading.Lock()

    @property
    def conn(self):
        """Return a live connection, (re)opening it when needed."""
        with self._lock:
            if self._conn is not None and not self._alive(self._conn):
                LOG.warning("libvirt connection to %s lost; reopening", self.uri)
                self._conn = None
            if self._conn is None:
                try:
                    self._conn = libvirt.open(self.uri)
                except libvirt.libvirtError as exc:
                    raise Unavailable(f"cannot connect to {self.uri}: {exc}") from exc
            return self._conn

    @staticmethod
    def _alive(conn):
        try:
            return conn.isAlive() == 1
        except libvirt.libvirtError:
            return False

    def revalidate(self):
        """Drop the connection if a round trip to the daemon fails.

        NOTE: isAlive() stays true on a client whose libvirtd restarted until
        a call hits the dead socket (no event loop runs keepalives here), so
        after an Unavailable error the caller asks each host to check.
        """
        with self._lock:
            conn = self._conn
        if conn is None:
            return
        try:
            conn.getLibVersion()
        except libvirt.libvirtError:
            LOG.warning("libvirt connection to %s is dead; will reopen", self.uri)
            self.close()

    def close(self):
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(libvirt.libvirtError):
                conn.close()

    def is_local(self):
        """Tell whether the host's files are this process's files (no host in the URI)."""
        return not urllib.parse.urlsplit(self.uri).netloc

    def domain_type(self):
        """Return the domain type new machines get on this host."""
        offered = xml.Capabilities.parse(self.conn.getCapabilities()).domain_types()
        if self._forced_type and self._forced_type not in offered:
            raise BackendError(f"{self.uri} offers no {self._forced_type!r} domains "
                               f"(it offers {', '.join(offered) or 'none'})")
        return self._forced_type or designer.domain_type(offered)

    def info(self):
        """Describe the host for placement (getInfo memory is in MiB)."""
        conn = self.conn
        _model, memory_mib, cpus, *_rest = conn.getInfo()
        free = conn.getFreeMemory() // 1024
        return model.HostInfo(name=self.name, uri=self.uri, cpus=cpus,
                              memory_kib=memory_mib * 1024, free_memory_kib=free)

    # Lookups: keys are what `backends.model` says (UUID, volume key, name).
    def domain(self, key):
        try:
            return self.conn.lookupByUUIDString(key)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_INVALID_ARG):
                raise
        return self.conn.lookupByName(key)

    def domain_by_name(self, name):
        """Return the domain called name, or None."""
        return _or_none(self.conn.lookupByName, name, libvirt.VIR_ERR_NO_DOMAIN)

    def pool(self, name):
        """Return an active pool; start it if it is only defined."""
        pool = self.conn.storagePoolLookupByName(name)
        if not pool.isActive():
            pool.create(0)
        return pool

    def volume(self, key):
        try:
            return self.conn.storageVolLookupByKey(key)
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_STORAGE_VOL:
                raise
        return self.conn.storageVolLookupByPath(key)

    def volume_or_none(self, key):
        return _or_none(self.volume, key, libvirt.VIR_ERR_NO_STORAGE_VOL)

    def volume_in(self, pool, name):
        """Return the volume called name in pool, or None."""
        return _or_none(pool.storageVolLookupByName, name, libvirt.VIR_ERR_NO_STORAGE_VOL)

    @staticmethod
    def refresh_pool(pool, wait=POOL_BUSY_WAIT):
        """Refresh a pool, waiting while libvirt builds another volume in it (it refuses then)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return pool.refresh(0)
            except libvirt.libvirtError as exc:
                if "has asynchronous jobs running" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)

    @staticmethod
    def delete_volume(vol):
        """Delete a volume; one already gone is fine."""
        _or_none(vol.delete, 0, libvirt.VIR_ERR_NO_STORAGE_VOL)

    def network(self, name):
        return self.conn.networkLookupByName(name)

    def network_or_none(self, name):
        return _or_none(self.conn.networkLookupByName, name, libvirt.VIR_ERR_NO_NETWORK)

    def domains(self):
        return self.conn.listAllDomains(0)

    def new_stream(self):
        return self.conn.newStream(0)


def default_console_dir(uri):
    """Return the directory of a daemon's QEMU logs, which its virtlogd may write.

    A system daemon's is designer.CONSOLE_DIR; a local session daemon (running
    as the user) keeps them under the user's cache directory.
    """
    parts = urllib.parse.urlsplit(uri)
    if parts.path.rstrip("/") == "/session" and not parts.netloc:
        return os.path.expanduser("~/.cache/libvirt/qemu/log")
    return designer.CONSOLE_DIR


def _or_none(lookup, key, missing_code):
    try:
        return lookup(key)
    except libvirt.libvirtError as exc:
        if exc.get_error_code() == missing_code:
            return None
        raise
