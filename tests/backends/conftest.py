"""Fixtures for backend tests: test-driver nodes, fixture XML, libvirtd."""
import pathlib

import libvirt
import pytest

from backends.libvirt import LibvirtBackend

DATA = pathlib.Path(__file__).resolve().parent.parent / "data" / "libvirt"
TEST_NODE_URI = "test://" + str(DATA / "testnode.xml")


def pytest_addoption(parser):
    parser.addoption("--regenerate-output", action="store_true", default=False,
                     help="rewrite tests/data/libvirt/*.xml from the generated XML")


@pytest.fixture
def compare_xml(request):
    """Compare text with a fixture file, or rewrite it with --regenerate-output.

    A change of generated XML thus shows up as a reviewed diff of the file.
    """
    regenerate = request.config.getoption("--regenerate-output")

    def compare(text, name):
        path = DATA / name
        if regenerate or not path.exists():
            path.write_text(text)
            if not regenerate:
                pytest.fail(f"{path} did not exist; created it, review and re-run")
        assert text == path.read_text(), f"generated XML differs from {path}"
    return compare


@pytest.fixture
def node_uri():
    """A test-driver URI whose connection has private, fresh state."""
    return TEST_NODE_URI


@pytest.fixture
def backend(node_uri):
    """A LibvirtBackend on a private test-driver node."""
    b = LibvirtBackend(node_uri)
    yield b
    b.close()


@pytest.fixture
def conn(backend):
    """The backend's own connection: a private node is only visible there."""
    return backend._host().conn


def _backend_on_libvirtd(libvirtd, libvirtd_pool, **options):
    pool, _qcow2 = libvirtd_pool
    b = LibvirtBackend(libvirtd, image_pool=pool, volume_pool=pool, **options)
    observer = libvirt.open(libvirtd)
    made = []
    yield b, observer, made
    for kind, key in reversed(made):
        getattr(b, f"delete_{kind}")(key)
    b.close()
    observer.close()


@pytest.fixture
def real(libvirtd, libvirtd_pool):
    """A LibvirtBackend on the real libvirtd's test pool, an observer connection, and what to delete after."""
    yield from _backend_on_libvirtd(libvirtd, libvirtd_pool)


@pytest.fixture
def tcg(libvirtd, libvirtd_pool):
    """The same, making TCG guests: a BIOS without OS to boot keeps running there (nested KVM stops it)."""
    yield from _backend_on_libvirtd(libvirtd, libvirtd_pool, domain_type="qemu")


@pytest.fixture
def tcg_cloud(libvirtd, libvirtd_pool, tmp_path, monkeypatch):
    """Make a Cloud on the real libvirtd whose guests run under TCG; return (cloud, alice's client).

    Its Machines, Volumes and default network go afterwards.
    """
    from falcon import testing

    from cimi import auth
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    from tests.conftest import Client
    pool, _ = libvirtd_pool
    monkeypatch.setenv("CIMI_ADMIN_PASSWORD", "admin-pw")
    made = []

    def make(**options):
        backend = LibvirtBackend(libvirtd, image_pool=pool, volume_pool=pool, domain_type="qemu")
        cloud = Cloud(Config(data_dir=str(tmp_path / f"var{len(made)}"), workers=2, libvirt_uris=[libvirtd],
                             image_pool=pool, **{"default_network": "", "reconcile_every": 0, **options}),
                      backend=backend)
        auth.add_user("alice", "alice-pw")
        alice = Client(testing.TestClient(create_app(cloud)), "alice", "alice-pw")
        made.append((cloud, alice))
        return cloud, alice
    yield make
    for cloud, alice in made:
        for collection in ("machines", "volumes"):
            for item in alice.get(alice.cep()[collection]["href"]).json.get(collection, []):
                alice.wait(alice.delete(item["id"]).headers["CIMI-Job-URI"], timeout=60)
        cloud.close()
        if cloud.config.default_network:
            cloud.backend.delete_network(cloud.config.default_network)
        cloud.backend.close()
