"""The Libcloud driver against a live server: every driver method, state mapping and error mapping."""
import hashlib
import json
from pathlib import Path

import pytest
from libcloud.common.types import InvalidCredsError
from libcloud.compute.base import Node, NodeImage, NodeSize, StorageVolume
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, StorageVolumeState

import cimiclient.libcloud
from cimiclient.libcloud import (
    CIMIConflictError,
    CIMIError,
    CIMINodeDriver,
    CIMINotFoundError,
)

SCHEMAS = Path(__file__).parent.parent.parent / "schemas"


@pytest.fixture
def driver(server):
    host_port = server.split("//")[1].split("/")[0]
    host, port = host_port.split(":")
    return get_driver("cimi")("alice", "alice-pw", host=host, port=int(port), secure=False)


@pytest.fixture
def node(driver):
    size = [s for s in driver.list_sizes() if s.name == "small"][0]
    image = [i for i in driver.list_images() if i.name == "blank"][0]
    return driver.create_node("n1", size=size, image=image)


def state(driver, node):
    return driver.ex_get_node(node.id).state


def test_registered_under_cimi():
    assert get_driver("cimi") is CIMINodeDriver
    cimiclient.libcloud.register()   # idempotent
    assert get_driver("cimi") is CIMINodeDriver


def test_every_cimi_machine_state_is_mapped():
    states = json.loads((SCHEMAS / "Machine.json").read_text())["properties"]["state"]["enum"]
    assert set(states) == set(CIMINodeDriver.NODE_STATE_MAP)
    assert CIMINodeDriver.NODE_STATE_MAP["STARTED"] == NodeState.RUNNING
    assert CIMINodeDriver.NODE_STATE_MAP["STOPPED"] == NodeState.STOPPED
    volume_states = json.loads((SCHEMAS / "Volume.json").read_text())["properties"]["state"]["enum"]
    assert set(volume_states) == set(CIMINodeDriver.VOLUME_STATE_MAP)


def test_list_sizes_images_locations(driver):
    sizes = {s.name: s for s in driver.list_sizes()}
    assert set(sizes) == {"small", "medium", "large"}
    assert isinstance(sizes["small"], NodeSize) and sizes["small"].ram == 512 and sizes["small"].disk == 4
    assert sizes["large"].extra["cpu"] == 4 and "/machineConfigs/" in sizes["large"].id
    images = driver.list_images()
    assert [i.name for i in images] == ["blank"] and isinstance(images[0], NodeImage)
    assert images[0].extra["state"] == "AVAILABLE"
    assert driver.get_image(images[0].id).name == "blank"
    [location] = driver.list_locations()
    assert location.id.endswith("/cimi/") and location.name == "darn simple cloud"


def test_create_node_and_list_nodes(driver, node):
    assert isinstance(node, Node) and node.name == "n1" and node.state == NodeState.RUNNING
    assert node.extra["cpu"] == 1 and node.extra["memory_kib"] == 524288
    assert [n.id for n in driver.list_nodes()] == [node.id]
    assert driver.list_nodes(ex_filter="name='other'") == []


def test_create_node_needs_size_and_image(driver):
    with pytest.raises(ValueError):
        driver.create_node("x", size=driver.list_sizes()[0])


def test_create_node_from_a_template(driver, client):
    size, image = driver.list_sizes()[0], driver.list_images()[0]
    result = client.create("machineTemplates", {"resourceURI": cimiclient.NS + "MachineTemplate", "name": "t",
                                                "machineConfig": {"href": size.id},
                                                "machineImage": {"href": image.id}})
    node = driver.create_node("fromtpl", ex_template=result.location, ex_initial_state="STOPPED")
    assert node.state == NodeState.STOPPED and node.extra["cpu"] == size.extra["cpu"]


def test_stop_start_reboot_pause_suspend(driver, node):
    assert driver.stop_node(node) is True and state(driver, node) == NodeState.STOPPED
    assert driver.start_node(node) is True and state(driver, node) == NodeState.RUNNING
    assert driver.reboot_node(node) is True and state(driver, node) == NodeState.RUNNING
    assert driver.ex_pause_node(node) is True and state(driver, node) == NodeState.PAUSED
    assert driver.start_node(node) and state(driver, node) == NodeState.RUNNING
    assert driver.ex_suspend_node(node) is True and state(driver, node) == NodeState.SUSPENDED
    assert driver.start_node(node) and driver.stop_node(node, ex_force=True)
    assert state(driver, node) == NodeState.STOPPED


def test_upload_image(driver, client, tmp_path):
    """The bytes of a local disk file become a MachineImage (the provider's image upload)."""
    disk = tmp_path / "tiny.raw"
    disk.write_bytes(bytes(range(256)) * 4096)
    image = driver.ex_upload_image(disk, "tiny", ex_description="one MiB")
    assert isinstance(image, NodeImage) and (image.name, image.extra["state"]) == ("tiny", "AVAILABLE")
    doc = client.get(image.id)
    assert doc["description"] == "one MiB"
    assert doc["properties"]["sha256"] == hashlib.sha256(disk.read_bytes()).hexdigest()
    with pytest.raises(FileNotFoundError):
        driver.ex_upload_image(tmp_path / "missing.raw", "none")
    assert sorted(i.name for i in driver.list_images()) == ["blank", "tiny"]


def test_capture_node_and_delete_image(driver, node):
    driver.stop_node(node)
    image = driver.ex_capture_node(node, "snap1")
    assert image.name == "snap1" and image.extra["state"] == "AVAILABLE"
    assert sorted(i.name for i in driver.list_images()) == ["blank", "snap1"]
    assert driver.delete_image(image) is True
    assert [i.name for i in driver.list_images()] == ["blank"]


def test_destroy_node(driver, node):
    assert driver.destroy_node(node) is True
    assert driver.list_nodes() == []
    with pytest.raises(CIMINotFoundError) as err:
        driver.ex_get_node(node.id)
    assert err.value.http_code == 404


def test_volumes(driver, node):
    volume = driver.create_volume(1, "vol1")
    assert isinstance(volume, StorageVolume) and volume.size == 1 and volume.state == StorageVolumeState.AVAILABLE
    assert volume.extra["capacity_kib"] == 1024 * 1024
    assert [v.id for v in driver.list_volumes()] == [volume.id]
    small = driver.create_volume(None, "vol2", ex_capacity_kib=2048)
    assert small.size == pytest.approx(2048 / 1024 / 1024) and small.extra["capacity_kib"] == 2048
    assert driver.attach_volume(node, volume, device="vdb") is True
    [(attached, device)] = driver.ex_list_attached_volumes(node)
    assert attached.id == volume.id and device == "vdb"
    with pytest.raises(CIMIConflictError):
        driver.destroy_volume(volume)   # still attached
    assert driver.detach_volume(volume) is True
    assert driver.ex_list_attached_volumes(node) == []
    assert driver.detach_volume(volume) is False
    assert driver.destroy_volume(volume) is True and driver.destroy_volume(small) is True
    assert driver.list_volumes() == []


def test_networks(driver):
    net = driver.ex_create_network("net1", cidr="10.8.0.0/24")
    assert net.state == "STARTED" and net.extra["cidr"] == "10.8.0.0/24"
    assert [n.name for n in driver.list_networks()] == ["net1"]
    assert driver.ex_stop_network(net) and driver.ex_get_network(net.id).state == "STOPPED"
    assert driver.ex_start_network(net) and driver.ex_get_network(net.id).state == "STARTED"
    assert net.destroy() is True and driver.list_networks() == []


def test_jobs(driver, node):
    jobs = driver.ex_list_jobs()
    assert jobs and all(j["state"] == "SUCCESS" for j in jobs)
    job = driver.ex_get_job(jobs[0]["id"])
    assert job["id"] == jobs[0]["id"]
    assert driver.ex_wait_for_job(job["id"].rsplit("/", 1)[1])["state"] == "SUCCESS"


def test_error_mapping(driver, node, server):
    with pytest.raises(CIMIConflictError) as err:
        driver.start_node(node)   # already running: start is not offered
    assert "start is not offered" in str(err.value)
    host, port = server.split("//")[1].split("/")[0].split(":")
    bad = CIMINodeDriver("alice", "wrong", host=host, port=int(port), secure=False)
    with pytest.raises(InvalidCredsError) as creds:
        bad.list_nodes()
    assert "wrong user name or password" in str(creds.value)
    with pytest.raises(CIMIError) as bad_filter:
        driver.list_nodes(ex_filter="name=='x'")
    assert bad_filter.value.http_code == 400
    assert isinstance(bad_filter.value, cimiclient.CimiError)   # the one hierarchy: the client's error too
    assert bad_filter.value.status == 400 and bad_filter.value.message == bad_filter.value.value


# --- auth, user data, networks, volumes, addresses, key pairs, locations, console ------------------------
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ3Gd7Nm0cqKJ1nNQp0Z3kq0l7m0X3bq9v1d2y3z4w5x alice@laptop"


def small_and_blank(driver):
    return ([s for s in driver.list_sizes() if s.name == "small"][0],
            [i for i in driver.list_images() if i.name == "blank"][0])


def test_create_node_honours_auth_userdata_networks_and_volumes(driver, client, libvirt_conn):
    from libcloud.compute.base import NodeAuthSSHKey
    from lxml import etree
    from cimi import naming
    from tests.client.test_cli_commands import config_drives
    size, image = small_and_blank(driver)
    nets = [driver.ex_create_network(n, cidr=f"10.67.{i}.0/24") for i, n in enumerate(("a", "b"))]
    vol = driver.create_volume(1, "data")
    node = driver.create_node("n2", size=size, image=image, auth=NodeAuthSSHKey(KEY), ex_username="deploy",
                              ex_userdata="#cloud-config\nruncmd: [echo hi]\n", ex_networks=[nets[0], "b"],
                              ex_volumes=[(vol, "vdc")])
    credential = client.find("credentials", "n2-auth")
    assert credential["userName"] == "deploy" and bytes.fromhex(credential["key"]).decode() == KEY
    assert node.extra["properties"]["credential"] == credential["id"]
    nics = client.list(node.extra["resource"]["networkInterfaces"]["href"])
    assert sorted(n["network"]["href"] for n in nics) == sorted(n.id for n in nets)
    [(attached, device)] = driver.ex_list_attached_volumes(node)
    assert attached.id == vol.id and device == "vdc"
    dom = etree.fromstring(libvirt_conn.lookupByName(naming.machine_name(node.id.rsplit("/", 1)[1])).XMLDesc(0))
    assert len(dom.findall("devices/interface")) == 2 and len(config_drives(dom)) == 1
    assert node.public_ips == [] and node.private_ips == [], "the test driver leases no addresses"


def test_create_node_with_a_password(driver, client):
    from libcloud.compute.base import NodeAuthPassword
    size, image = small_and_blank(driver)
    node = driver.create_node("n3", size=size, image=image, auth=NodeAuthPassword("s3cret!"), ex_username="ops")
    credential = client.find("credentials", "n3-auth")
    assert credential["userName"] == "ops" and "password" not in credential, "the server keeps it secret"
    assert node.extra["properties"]["credential"] == credential["id"]


def test_create_node_refused_leaves_nothing(driver, client):
    from libcloud.common.types import LibcloudError
    from libcloud.compute.base import NodeAuthSSHKey
    size, image = small_and_blank(driver)
    with pytest.raises(CIMINotFoundError):
        driver.create_node("n4", size=size, image=image, auth=NodeAuthSSHKey(KEY), ex_networks=["nosuch"])
    assert client.list("credentials") == [] and driver.list_nodes() == []
    with pytest.raises(LibcloudError, match="chooses the host itself"):
        driver.create_node("n4", size=size, image=image, location=driver.list_locations()[0])
    with pytest.raises(ValueError):
        driver.create_node("n4", size=size, image=image, auth=object())


def test_private_ranges_are_private_ips():
    from cimiclient.libcloud.convert import split_ips
    assert split_ips(["10.1.2.3", "93.184.216.34", "192.168.201.4", "fd00::1", "2001:4860::8888", "junk"]) == (
        ["93.184.216.34", "2001:4860::8888"], ["10.1.2.3", "192.168.201.4", "fd00::1"])


def test_key_pairs_are_credentials(driver, client, tmp_path):
    import subprocess
    from libcloud.compute.types import KeyPairDoesNotExistError
    created = driver.create_key_pair("kp1")
    assert created.private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert created.public_key.startswith("ssh-ed25519 ") and "BEGIN" not in json.dumps(client.list("credentials"))
    (tmp_path / "kp1.pub").write_text(created.public_key + "\n")
    listed = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "kp1.pub")], capture_output=True, text=True,
                            check=True).stdout.split()
    assert created.fingerprint == listed[1]
    imported = driver.import_key_pair_from_string("kp2", KEY)
    assert imported.public_key == KEY and imported.private_key is None
    assert sorted(k.name for k in driver.list_key_pairs()) == ["kp1", "kp2"]
    assert driver.get_key_pair("kp2").fingerprint == imported.fingerprint
    size, image = small_and_blank(driver)
    node = driver.create_node("withkey", size=size, image=image, ex_keyname="kp2")
    assert node.extra["properties"]["credential"] == imported.extra["id"]
    assert driver.delete_key_pair(created) is True
    assert [k.name for k in driver.list_key_pairs()] == ["kp2"]
    with pytest.raises(KeyPairDoesNotExistError):
        driver.get_key_pair("kp1")
    with pytest.raises(KeyPairDoesNotExistError):
        driver.delete_key_pair(created)
    with pytest.raises(CIMIError) as bad:
        driver.import_key_pair_from_string("kp3", "not a key")
    assert "one OpenSSH public key line" in str(bad.value)


def test_locations_are_the_hosts(driver, node):
    [location] = driver.list_locations()
    assert location.id == node.extra["host"] and location.id.startswith("test://")


def test_console_output(driver, node, cloud):
    """The console log (CONSOLE contract); a server without the operation: a clear CIMIConflictError."""
    if cimiclient.CONSOLE not in node.extra["operations"]:
        with pytest.raises(CIMIConflictError, match="offers no console log"):
            driver.ex_get_console_output(node)
        return
    from tests.conftest import console_log       # comes with the console operation
    console_log(cloud, node.extra["resource"]).write_bytes(b"one\ntwo\nlogin: ")
    assert driver.ex_get_console_output(node) == {"output": "one\ntwo\nlogin: "}
    assert driver.ex_get_console_output(node, ex_tail=1) == {"output": "login: "}


def test_error_types(driver, node, client):
    from libcloud.common.types import InvalidCredsError, ServiceUnavailableError
    from cimiclient import Ambiguous, Forbidden, JobFailed, Unavailable
    from cimiclient.libcloud.errors import CIMIJobFailedError, to_libcloud
    size, image = small_and_blank(driver)
    driver.ex_create_network("twin", cidr="10.68.1.0/24")
    driver.ex_create_network("twin", cidr="10.68.2.0/24")
    with pytest.raises(CIMIConflictError, match="2 networks are named 'twin'"):
        driver.create_node("x", size=size, image=image, ex_networks=["twin"])
    failed = to_libcloud(JobFailed({"state": "FAILED", "statusMessage": "disk full"}), driver)
    assert isinstance(failed, CIMIJobFailedError) and "disk full" in str(failed)
    assert isinstance(to_libcloud(Forbidden("no", 403)), InvalidCredsError)
    assert isinstance(to_libcloud(Unavailable("busy", 503)), ServiceUnavailableError)
    assert isinstance(to_libcloud(Ambiguous("two")), CIMIConflictError)


def test_a_mapped_error_passes_through_an_outer_driver_method_unchanged():
    from cimiclient import NotFound
    from cimiclient.libcloud.errors import mapped

    @mapped
    class Driver:
        def inner(self):
            raise NotFound("gone", 404)

        def outer(self):   # as create_key_pair calls import_key_pair_from_string
            return self.inner()

    with pytest.raises(CIMINotFoundError, match="gone"):
        Driver().outer()
