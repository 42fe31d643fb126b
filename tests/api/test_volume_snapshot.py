"""Volume snapshots: a VolumeImage POSTed with a Volume's href (DSP0263 5.15.8.1)."""
import pytest

import backends
from cimi import store
from tests.conftest import machine_body

CIMI = "http://schemas.dmtf.org/cimi/1"
VOLUME = {"resourceURI": f"{CIMI}/VolumeCreate", "name": "data",
          "volumeTemplate": {"volumeConfig": {"capacity": 2048}}}


def snapshot_body(volume, **extra):
    return {"resourceURI": f"{CIMI}/VolumeImage", "name": "snap", "imageLocation": volume["id"], **extra}


def row_of(kind, doc):
    return store.get(kind, doc["id"].rsplit("/", 1)[-1])


def test_a_snapshot_becomes_an_available_volume_image(cloud, alice, libvirt_conn):
    _, volume = alice.create("volumes", VOLUME)
    seen = []
    real = cloud.backend.snapshot_volume

    def observed(key, name):
        seen.append(row_of("Volume", volume)["state"])          # while the backend copies
        return real(key, name)
    cloud.backend.snapshot_volume = observed
    resp, image = alice.create("volumeImages", snapshot_body(volume))
    assert seen == ["CAPTURING"]
    assert image["state"] == "AVAILABLE"
    assert image["imageLocation"] == volume["id"]
    assert alice.get(volume["id"]).json["state"] == "AVAILABLE"
    job = alice.get(resp.headers["CIMI-Job-URI"]).json
    assert {"href": volume["id"]} in job["affectedResources"]
    key = row_of("VolumeImage", image)["data"]["_key"]
    assert key != row_of("Volume", volume)["data"]["_key"]
    assert libvirt_conn.storageVolLookupByKey(key).info()[1] == 2048 * 1024
    # A Volume made from the snapshot.
    _, copy = alice.create("volumes", {"resourceURI": f"{CIMI}/VolumeCreate", "volumeTemplate": {
        "volumeConfig": {"capacity": 4096}, "volumeImage": {"href": image["id"]}}})
    assert copy["state"] == "AVAILABLE"


def test_deleting_the_volume_image_removes_its_bytes(alice, libvirt_conn):
    _, volume = alice.create("volumes", VOLUME)
    _, image = alice.create("volumeImages", snapshot_body(volume))
    key = row_of("VolumeImage", image)["data"]["_key"]
    resp = alice.delete(image["id"])
    assert resp.status_code == 202
    assert alice.wait(resp.headers["CIMI-Job-URI"])["state"] == "SUCCESS"
    assert alice.get(image["id"]).status_code == 404
    keys = {v.key() for p in libvirt_conn.listAllStoragePools() for v in p.listAllVolumes()}
    assert key not in keys
    assert row_of("Volume", volume)["data"]["_key"] in keys


def test_a_failed_snapshot_leaves_no_image_and_the_volume_available(cloud, alice):
    _, volume = alice.create("volumes", VOLUME)

    def broken(key, name):
        raise backends.BackendError("the pool is full")
    cloud.backend.snapshot_volume = broken
    resp = alice.post(alice.cep()["volumeImages"]["href"], snapshot_body(volume))
    assert resp.status_code == 202
    job = alice.wait(resp.headers["CIMI-Job-URI"])
    assert job["state"] == "FAILED"
    assert "the pool is full" in job["statusMessage"]
    assert alice.get(resp.headers["Location"]).status_code == 404
    assert alice.get(volume["id"]).json["state"] == "AVAILABLE"


def test_only_the_owner_may_snapshot(alice, bob):
    _, volume = alice.create("volumes", VOLUME)
    resp = bob.post(bob.cep()["volumeImages"]["href"], snapshot_body(volume))
    assert resp.status_code == 404
    assert alice.get(volume["id"]).json["state"] == "AVAILABLE"


def test_a_volume_on_a_running_machine_is_refused(alice):
    _, volume = alice.create("volumes", VOLUME)
    body = machine_body(alice)
    body["machineTemplate"]["volumes"] = [{"href": volume["id"]}]
    _, machine = alice.create("machines", body)
    assert machine["state"] == "STARTED"
    resp = alice.post(alice.cep()["volumeImages"]["href"], snapshot_body(volume))
    assert resp.status_code == 409
    assert "stop the Machine" in resp.json["message"]
    alice.act(machine, "stop")
    _, image = alice.create("volumeImages", snapshot_body(volume))
    assert image["state"] == "AVAILABLE"


@pytest.mark.parametrize("location", ["", "/cimi/machines/nope"])
def test_image_location_must_be_a_volume(alice, location):
    resp = alice.post(alice.cep()["volumeImages"]["href"], {"resourceURI": f"{CIMI}/VolumeImage",
                                                            "imageLocation": location})
    assert resp.status_code == 400


def test_volume_metadata_says_snapshots_are_offered(alice):
    entries = alice.get(alice.cep()["resourceMetadata"]["href"]).json["resourceMetadata"]
    volume = next(m for m in entries if m["typeURI"].endswith("/Volume"))
    assert {c["name"]: c["value"] for c in volume["capabilities"]}["VolumeSnapshot"] == "true"
