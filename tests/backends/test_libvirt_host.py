"""The Host edge: connections, reconnection, error mapping, configuration."""
import libvirt
import pytest

from backends import BackendError, Conflict, NotFound, Unavailable, model
from backends.libvirt import LibvirtBackend, default_pool
from backends.libvirt.host import Host, error_from, translate


def test_default_pool_depends_on_the_driver():
    assert default_pool("test:///default") == "default-pool"
    assert default_pool("qemu:///system") == "default"


def test_missing_pool_refuses_to_construct(node_uri):
    with pytest.raises(BackendError, match="'nope' does not exist") as caught:
        LibvirtBackend(node_uri, image_pool="nope", create_pools=False)
    assert type(caught.value) is BackendError      # not NotFound: a config error


def test_unreachable_hypervisor_is_unavailable(tmp_path):
    with pytest.raises(Unavailable):
        LibvirtBackend(f"qemu+unix:///system?socket={tmp_path}/no-such-socket")


def test_host_reopens_a_closed_connection(node_uri):
    host = Host("h", node_uri)
    first = host.conn
    first.close()
    assert host.conn is not first
    assert host.info().cpus > 0
    host.close()


def _libvirt_error(call):
    try:
        call()
    except libvirt.libvirtError as exc:
        return exc
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize("call,expected", [
    (lambda c: c.lookupByName("missing"), NotFound),
    (lambda c: c.storageVolLookupByKey("/missing"), NotFound),
    (lambda c: c.networkLookupByName("missing"), NotFound),
    (lambda c: c.networkLookupByName("default").create(), Conflict),   # already active
    (lambda c: c.defineXML("<domain/>"), BackendError),
])
def test_libvirt_errors_map_to_backend_errors(conn, call, expected):
    mapped = error_from(_libvirt_error(lambda: call(conn)))
    assert type(mapped) is expected


def test_a_closed_connection_is_unavailable(node_uri):
    conn = libvirt.open(node_uri)
    conn.close()
    with pytest.raises(Unavailable):
        with translate():
            conn.getInfo()


def test_hosts_describe_every_uri(node_uri):
    b = LibvirtBackend(node_uri, hosts={"east": node_uri, "west": node_uri})
    infos = b.hosts()
    assert [h.name for h in infos] == [node_uri, "east", "west"]
    # The test driver's node is 16 CPUs and 3 GiB (getInfo reports MiB).
    assert all(h.cpus == 16 and h.memory_kib == 3 * 1024 * 1024 for h in infos)


def test_machine_spec_host_selects_the_connection(node_uri):
    b = LibvirtBackend(node_uri, hosts={"east": node_uri, "west": node_uri})
    m = b.create_machine(model.MachineSpec(name="m", cpu=1, memory_kib=65536, host="west"))
    assert m.host == "west" and b.machine(m.key).host == "west"
    # Each test-driver connection has its own state: only "west" holds it.
    west, east = b._hosts["west"].conn, b._hosts["east"].conn
    assert west.lookupByUUIDString(m.key).name() == "m"
    with pytest.raises(libvirt.libvirtError):
        east.lookupByUUIDString(m.key)
    with pytest.raises(NotFound):
        b.create_machine(model.MachineSpec(name="m", cpu=1, memory_kib=65536, host="north"))


def test_console_logs_go_where_the_daemon_s_virtlogd_writes():
    assert Host("h", "qemu:///system").console_dir == "/var/log/libvirt/qemu"
    assert Host("h", "qemu:///session").console_dir.endswith("/.cache/libvirt/qemu/log")
    assert Host("h", "qemu+ssh://far.example/system").console_dir == "/var/log/libvirt/qemu"
    assert Host("h", "qemu:///system", console_dir="/srv/c").console_dir == "/srv/c"


def test_only_a_uri_without_a_host_is_local():
    """Console logs are read from the filesystem: only a local daemon's are ours to read."""
    assert Host("h", "qemu:///system").is_local() and Host("h", "test:///default").is_local()
    assert not Host("h", "qemu+ssh://root@far.example/system").is_local()
