"""LibvirtBackend: `backends.base.Backend` over one or more libvirt hosts.

This class only routes: it picks the Host (by MachineSpec.host or by finding
the key) and hands the call to the per-kind module, inside `translated`, so
the front end sees `backends.base` errors and `backends.model` objects only.
"""
import functools
import uuid

import libvirt

from backends import base
from backends.base import NotFound, Unavailable
from backends.libvirt import export, images, machines, networks, pools, volumes
from backends.libvirt.host import Host, translate


def translated(method):
    """Raise only backend errors; retry once on a connection that died.

    Every method is idempotent by the interface's contract, so repeating one
    whose connection broke mid-way (libvirtd restarted) is safe.
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            with translate():
                return method(self, *args, **kwargs)
        except Unavailable:
            for host in self._hosts.values():
                host.revalidate()
        with translate():
            return method(self, *args, **kwargs)
    return wrapper


def _is_uuid(key):
    try:
        uuid.UUID(key)
    except ValueError:
        return False
    return True


def default_pool(uri):
    """Name the pool used when none is configured.

    The test driver's built-in node calls its pool "default-pool"; a
    libvirtd installation conventionally has "default".
    """
    return "default-pool" if uri.startswith("test:") else "default"


class LibvirtBackend(base.Backend):
    """The libvirt backend.

    Args:
        uri: the libvirt URI of the (first) host.
        image_pool: pool holding images; None: `default_pool(uri)`.
        volume_pool: pool holding Volumes and machine disks; None: the same.
        hosts: more hosts, as {name: uri} or [uri, ...] (a URI is then its own
            name); the first host is always `uri`, named by itself.
        domain_type: force "kvm"/"qemu"; None picks from the capabilities.
        console_dir: where hosts keep serial console logs (None: designer.CONSOLE_DIR).
        create_pools: create a missing pool (else refuse to start).
        pool_root: the directory missing pools are created in (`pools.path`).

    Raises:
        BackendError: a configured pool does not exist on some host (and
            create_pools is false) or cannot be created, or a forced domain
            type is not offered.
        Unavailable: a host cannot be reached.
    """

    def __init__(self, uri, image_pool=None, volume_pool=None, hosts=None, domain_type=None,
                 console_dir=None, create_pools=True, pool_root=pools.ROOT):
        self.image_pool = image_pool or default_pool(uri)
        self.volume_pool = volume_pool or self.image_pool
        extra = hosts.items() if isinstance(hosts, dict) else [(u, u) for u in hosts or ()]
        self._hosts = {}
        for name, host_uri in [(uri, uri), *extra]:
            self._hosts.setdefault(name, Host(name, host_uri, domain_type, console_dir))
        for host in self._hosts.values():
            if domain_type:
                with translate():
                    host.domain_type()        # refuse to start with a type the host cannot run
            for name in sorted({self.image_pool, self.volume_pool}):
                with translate():
                    pools.ensure(host, name, pool_root if create_pools else None)

    # Routing
    def _host(self, name=None):
        if name is None:
            return next(iter(self._hosts.values()))
        try:
            return self._hosts[name]
        except KeyError:
            raise NotFound(f"no host named {name!r}") from None

    def _find(self, lookup, key):
        """Return (host, object) for the first host where lookup(host, key) works."""
        for host in self._hosts.values():
            try:
                with translate():
                    return host, lookup(host, key)
            except NotFound:
                continue
        raise NotFound(key)

    def _domain(self, key):
        return self._find(Host.domain, key)

    def _find_or_none(self, lookup, key):
        """Return (host, object), or None when no host has it."""
        try:
            return self._find(lookup, key)
        except NotFound:
            return None

    # Hosts
    @translated
    def hosts(self):
        return [host.info() for host in self._hosts.values()]

    def close(self):
        for host in self._hosts.values():
            host.close()

    # Images
    @translated
    def create_image(self, name, capacity_bytes, source_path=None, source_format=None, host=None):
        return volumes.create_image(self._host(host), self.image_pool, name, capacity_bytes,
                                    source_path, source_format)

    @translated
    def capture_machine(self, machine_key, name):
        host, dom = self._domain(machine_key)
        return images.capture(host, self.image_pool, dom, name)

    @translated
    def delete_image(self, key):
        for host in self._hosts.values():
            volumes.delete_image(host, key)

    @translated
    def export_disk(self, key, dest_path):
        return export.export_disk(*self._find(Host.volume, key), dest_path)

    # Machines
    @translated
    def create_machine(self, spec):
        return machines.create(self._host(spec.host), self.volume_pool, spec)

    @translated
    def machine(self, key):
        return machines.info(*self._domain(key))

    @translated
    def list_machines(self):
        """List the machines this cloud defined; other domains are not Machines."""
        found = []
        for host in self._hosts.values():
            for dom in host.domains():
                try:
                    if machines.is_ours(dom):
                        found.append(machines.info(host, dom))
                except libvirt.libvirtError as exc:
                    if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise                  # NOTE: one deleted while we list is simply not there
        return found

    @translated
    def start_machine(self, key):
        return machines.start(*self._domain(key))

    @translated
    def stop_machine(self, key, force=False, timeout=60.0, waiting=None):
        return machines.stop(*self._domain(key), force=force, timeout=timeout, waiting=waiting)

    @translated
    def restart_machine(self, key, force=False, timeout=60.0, waiting=None):
        return machines.restart(*self._domain(key), force=force, timeout=timeout, waiting=waiting)

    @translated
    def pause_machine(self, key):
        return machines.pause(*self._domain(key))

    @translated
    def suspend_machine(self, key):
        return machines.suspend(*self._domain(key))

    @translated
    def delete_machine(self, key):
        found = self._find_or_none(Host.domain, key)
        if found:
            machines.delete(*found)
        elif not _is_uuid(key):            # gone already: reap disks still named after it
            for host in self._hosts.values():
                machines.reap_volumes(host, self.volume_pool, key)

    @translated
    def keep_machine(self, key):
        return machines.keep(*self._domain(key))

    @translated
    def restore_machine(self, kept):
        return machines.restore(self._host(kept["host"]), kept)

    @translated
    def drop_machine(self, kept):
        machines.drop(self._host(kept["host"]), kept)

    @translated
    def console_log(self, key, tail_lines):
        return machines.console_log(*self._domain(key), tail_lines)

    # Volumes
    @translated
    def create_volume(self, spec):
        return volumes.create_volume(self._host(spec.host), self.volume_pool, spec)

    @translated
    def delete_volume(self, key):
        for host in self._hosts.values():
            volumes.delete_volume(host, key)

    @translated
    def discard_volume(self, name, host=None):
        volumes.discard_volume(self._host(host), self.volume_pool, name)

    @translated
    def attach_volume(self, machine_key, volume_key, target=None, bus=None):
        host, dom = self._domain(machine_key)
        return volumes.attach(host, dom, volume_key, target, bus)

    @translated
    def detach_volume(self, machine_key, volume_key, timeout=30.0):
        host, dom = self._domain(machine_key)
        volumes.detach(host, dom, volume_key, timeout)

    @translated
    def volume_attachment(self, machine_key, volume_key):
        host, dom = self._domain(machine_key)
        return volumes.attachment(host, dom, volume_key)

    @translated
    def volume_holders(self, key):
        return [name for host in self._hosts.values() for name in volumes.holders(host, key)]

    @translated
    def snapshot_volume(self, key, name):
        host, vol = self._find(Host.volume, key)
        return images.snapshot_volume(host, self.image_pool, vol, name)

    # Networks
    @translated
    def create_network(self, spec):
        return networks.create(self._host(spec.host), spec)

    @translated
    def ensure_network(self, spec):
        host = self._host(spec.host)
        return networks.start(host, host.network(networks.create(host, spec).key))

    @translated
    def start_network(self, key):
        return networks.start(*self._find(Host.network, key))

    @translated
    def stop_network(self, key):
        return networks.stop(*self._find(Host.network, key))

    @translated
    def network_links(self, key):
        return networks.links(*self._find(Host.network, key))

    @translated
    def delete_network(self, key):
        found = self._find_or_none(Host.network, key)
        if found:
            networks.delete(*found)

    @translated
    def network(self, key):
        return networks.info(*self._find(Host.network, key))

    @translated
    def network_leases(self, key):
        return networks.leases(*self._find(Host.network, key))
