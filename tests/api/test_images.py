"""MachineImage registration from the import directory, and uploads of raw bytes (provider extension)."""
import hashlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from cimi import errors, imagefiles
from tests.conftest import machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
MiB = 1 << 20
OCTETS = "application/octet-stream"


def qemu_img(*args):
    subprocess.run(["qemu-img", *args], check=True, capture_output=True)


@pytest.fixture
def import_dir(cloud):
    path = Path(cloud.config.import_dir) / "alice"      # a tenant's own import directory
    path.mkdir(exist_ok=True)
    return path


def image_body(location, **properties):
    body = {"resourceURI": f"{CIMI}/MachineImage", "name": "registered", "imageLocation": location}
    if properties:
        body["properties"] = properties
    return body


def images_of(client):
    return {i["id"] for i in client.get(client.cep()["machineImages"]["href"]).json.get("machineImages", [])}


def pool_keys(libvirt_conn):
    return {v.key() for p in libvirt_conn.listAllStoragePools() for v in p.listAllVolumes()}


def backend_key(cloud, image):
    from cimi import store
    return store.get("MachineImage", image["id"].rsplit("/", 1)[-1])["data"]["_key"]


def staged_files(cloud):
    root = Path(cloud.config.data_dir) / "uploads"
    return list(root.iterdir()) if root.exists() else []


def post_and_wait(client, body):
    resp = client.post(client.cep()["machineImages"]["href"], body)
    assert resp.status_code == 202, resp.text
    return resp, client.wait(resp.headers["CIMI-Job-URI"])


def test_a_raw_file_registers_with_its_checksum(cloud, alice, import_dir, libvirt_conn):
    payload = os.urandom(3 * MiB)
    (import_dir / "disk.raw").write_bytes(payload)
    digest = hashlib.sha256(payload).hexdigest()
    _, image = alice.create("machineImages", image_body("file://" + str(import_dir / "disk.raw"), sha256=digest))
    assert image["state"] == "AVAILABLE"
    assert image["type"] == "IMAGE"
    assert image["properties"]["sha256"] == digest
    key = backend_key(cloud, image)
    vol = libvirt_conn.storageVolLookupByKey(key)
    assert "<format type='raw'/>" in vol.XMLDesc(0)
    assert vol.info()[1] >= len(payload)
    assert staged_files(cloud) == []
    # ...and a Machine boots from it.
    body = machine_body(alice)
    body["machineTemplate"]["machineImage"] = {"href": image["id"]}
    _, machine = alice.create("machines", body)
    assert machine["state"] == "STARTED"


def test_a_relative_path_and_a_qcow2_register(cloud, alice, import_dir, libvirt_conn):
    qemu_img("create", "-q", "-f", "qcow2", str(import_dir / "small.qcow2"), "5M")
    _, image = alice.create("machineImages", image_body("small.qcow2"))
    vol = libvirt_conn.storageVolLookupByKey(backend_key(cloud, image))
    assert "<format type='qcow2'/>" in vol.XMLDesc(0)
    assert vol.info()[1] >= 5 * MiB


def test_vmdk_is_converted_to_qcow2(cloud, alice, import_dir, libvirt_conn):
    qemu_img("create", "-q", "-f", "raw", str(import_dir / "src.raw"), "2M")
    qemu_img("convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
             str(import_dir / "src.raw"), str(import_dir / "disk.vmdk"))
    _, image = alice.create("machineImages", image_body("disk.vmdk", format="vmdk"))
    vol = libvirt_conn.storageVolLookupByKey(backend_key(cloud, image))
    assert "<format type='qcow2'/>" in vol.XMLDesc(0)
    assert vol.info()[1] == 2 * MiB
    assert staged_files(cloud) == []


@pytest.mark.parametrize("make, properties, message", [
    (lambda d: (d / "bad.raw").write_bytes(b"x" * 4096), {"sha256": "0" * 64}, "checksum mismatch"),
    (lambda d: qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname", str(d / "bad.raw"), "1M"),
     {}, "backing file"),
    (lambda d: (d / "bad.raw").write_bytes(b"x" * 4096), {"format": "qcow2"}, "declared qcow2 but its bytes are raw"),
    (lambda d: qemu_img("create", "-q", "-f", "qcow2", "-o", "data_file=" + str(d / "data.bin"),
                        str(d / "bad.raw"), "1M"), {}, "external data file"),
])
def test_refused_files_fail_the_job_and_leave_nothing(cloud, alice, import_dir, libvirt_conn, make, properties,
                                                       message):
    make(import_dir)
    before_images, before_volumes = images_of(alice), pool_keys(libvirt_conn)
    resp, job = post_and_wait(alice, image_body("bad.raw", **properties))
    assert job["state"] == "FAILED"
    assert message in job["statusMessage"]
    assert alice.get(resp.headers["Location"]).status_code == 404
    assert images_of(alice) == before_images
    assert pool_keys(libvirt_conn) == before_volumes
    assert staged_files(cloud) == []


@pytest.mark.parametrize("location", ["/etc/hostname", "../../etc/hostname", "http://example.com/disk.qcow2",
                                      "file://otherhost/srv/disk.raw", "missing.raw"])
def test_files_outside_the_import_directory_are_refused_at_once(alice, location):
    resp = alice.post(alice.cep()["machineImages"]["href"], image_body(location))
    assert resp.status_code == 400, resp.text
    assert "import directory" in resp.json["message"]


def test_bad_declarations_fail_the_job(alice, import_dir):
    (import_dir / "disk.raw").write_bytes(b"x" * 512)
    for props, message in (({"sha256": "abc"}, "sha256 must be"), ({"format": "vhd"}, "format must be")):
        resp, job = post_and_wait(alice, image_body("disk.raw", **props))
        assert job["state"] == "FAILED"
        assert message in job["statusMessage"]
        assert alice.get(resp.headers["Location"]).status_code == 404


def upload(client, data, **params):
    return client.request("POST", client.cep()["machineImages"]["href"], data,
                          headers={"Content-Type": OCTETS}, params=params)


def test_an_upload_becomes_an_image_of_its_owner(cloud, alice, bob, libvirt_conn):
    payload = b"\0" * (2 * MiB) + os.urandom(MiB) + b"tail"
    resp = upload(alice, payload, name="uploaded", description="from my laptop")
    assert resp.status_code == 202, resp.text
    assert resp.json["state"] == "CREATING"
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    image = alice.get(resp.headers["Location"]).json
    assert (image["name"], image["description"], image["state"]) == ("uploaded", "from my laptop", "AVAILABLE")
    assert image["properties"]["sha256"] == hashlib.sha256(payload).hexdigest()
    assert libvirt_conn.storageVolLookupByKey(backend_key(cloud, image)).info()[1] >= len(payload)
    assert bob.get(image["id"]).status_code == 404
    assert staged_files(cloud) == []


def test_an_upload_with_the_declared_checksum_passes(alice):
    payload = os.urandom(MiB + 7)
    resp = upload(alice, payload, name="checked", sha256=hashlib.sha256(payload).hexdigest())
    assert resp.status_code == 202, resp.text
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"


def test_a_wrong_checksum_upload_is_refused_and_not_kept(cloud, alice):
    before = images_of(alice)
    resp = upload(alice, os.urandom(4096), name="tampered", sha256="1" * 64)
    assert resp.status_code == 400
    assert "checksum mismatch" in resp.json["message"]
    assert images_of(alice) == before
    assert staged_files(cloud) == []


def test_an_upload_over_the_limit_is_refused(cloud, alice):
    cloud.config.max_upload = 1000
    resp = upload(alice, b"x" * 1001, name="big")
    assert resp.status_code == 413
    assert staged_files(cloud) == []


class Unread(io.RawIOBase):
    def read(self, size=-1):
        raise AssertionError("a body declared too long is refused before it is read")


def test_the_receiver_takes_plain_data_that_the_http_layer_builds(cloud):
    """cimi/imagefiles.receive reads an Upload (any stream, its declared length), never a falcon request."""
    body = os.urandom(3000)
    upload_ = imagefiles.Upload(io.BytesIO(body), len(body), "application/octet-stream", {"name": "plain"})
    staged, size, digest = imagefiles.receive(cloud.config, upload_, "images")
    try:
        assert (size, digest, Path(staged).read_bytes()) == (3000, hashlib.sha256(body).hexdigest(), body)
    finally:
        imagefiles.remove(staged)
    cloud.config.max_upload = 1000
    with pytest.raises(errors.PayloadTooLarge, match="images are limited to 1000 bytes"):
        imagefiles.receive(cloud.config, imagefiles.Upload(Unread(), 1001, "application/octet-stream", {}), "images")
    assert staged_files(cloud) == []


def test_an_upload_needs_a_name(alice):
    resp = upload(alice, b"x" * 512)
    assert resp.status_code == 400
    assert "name" in resp.json["message"]


def test_an_unsafe_upload_fails_its_job_and_leaves_nothing(cloud, alice, tmp_path, libvirt_conn):
    evil = tmp_path / "evil.qcow2"
    qemu_img("create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/shadow", str(evil), "1M")
    before_images, before_volumes = images_of(alice), pool_keys(libvirt_conn)
    resp = upload(alice, evil.read_bytes(), name="evil")
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED"
    assert "backing file" in job["statusMessage"]
    assert images_of(alice) == before_images
    assert pool_keys(libvirt_conn) == before_volumes
    assert staged_files(cloud) == []


def test_metadata_declares_registration_and_upload(alice):
    href = alice.cep()["resourceMetadata"]["href"]
    entries = alice.get(href).json["resourceMetadata"]
    image = next(m for m in entries if m["typeURI"].endswith("/MachineImage"))
    capabilities = {c["name"]: c for c in image["capabilities"]}
    assert capabilities["ImageUpload"]["value"] == "true"
    assert OCTETS in capabilities["ImageUpload"]["description"]
    assert "ImageRegistration" in capabilities


def test_capture_still_needs_a_machine_href(alice):
    resp = alice.post(alice.cep()["machineImages"]["href"], image_body(alice.cep()["volumes"]["href"] + "/nope"))
    assert resp.status_code in (400, 404)
