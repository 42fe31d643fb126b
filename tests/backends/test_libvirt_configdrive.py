"""The cloud-init NoCloud config drive: its files, and its place in a machine's domain."""
import email
import io
import json

import pycdlib
import pytest
from lxml import etree

from backends import model
from backends.libvirt import configdrive


def read_iso(data):
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    files = {}
    for path in ("/meta-data", "/user-data", "/network-config", "/cimi/user-data"):
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=path)
        files[path] = out.getvalue()
    label = iso.pvd.volume_identifier.strip()
    iso.close()
    return label, files


def meta_data(files):
    """meta-data as cloud-init reads it (YAML: plain words, or values quoted as JSON)."""
    return {k: json.loads(v) if v[:1] in '"[' else v
            for k, v in (line.split(": ", 1) for line in files["/meta-data"].decode().splitlines())}


def cloud_config(data):
    assert data.startswith(b"#cloud-config\n")
    return json.loads(data.split(b"\n", 1)[1])          # JSON is YAML: what cloud-init parses


ALICE = model.GuestUser("alice", ["ssh-ed25519 AAAAC3 alice@x"], "$6$salt$hash")
DEFAULT = model.GuestUser(None, ["ssh-rsa AAAAB3 bob@y"])


def test_meta_data_names_the_machine():
    label, files = read_iso(configdrive.build("4f9c-id", "web1"))
    assert label == b"cidata"
    assert files["/meta-data"] == b"instance-id: 4f9c-id\nlocal-hostname: web1\n"     # as NoCloud's docs write it
    assert b"dhcp4: true" in files["/network-config"]


@pytest.mark.parametrize("name,hostname", [("web 1/ü", "web-1"), ("db.example.org", "db.example.org"),
                                           ("---", "4f9c-id"), (None, "4f9c-id"),
                                           ("a: b\ninstance-id: evil", "a-b-instance-id-evil")])
def test_hostname_is_a_valid_host_name(name, hostname):
    assert meta_data(read_iso(configdrive.build("4f9c-id", name))[1])["local-hostname"] == hostname


@pytest.mark.parametrize("value,written", [("web1", "web1"), ("yes", '"yes"'), ("On", '"On"'), ("0x1f", '"0x1f"'),
                                           ("12345", '"12345"'), ("1.5", '"1.5"'), ("a b", '"a b"')])
def test_meta_data_values_stay_strings_in_yaml(value, written):
    """YAML 1.1 reads yes/on/0x1f/12345 as non-strings: those are quoted."""
    assert configdrive._scalar(value) == written


def test_default_user_keys_reach_meta_data_and_cloud_config():
    _, files = read_iso(configdrive.build("i", "h", None, [DEFAULT]))
    assert meta_data(files)["public-keys"] == ["ssh-rsa AAAAB3 bob@y"]
    assert cloud_config(files["/user-data"]) == {"ssh_authorized_keys": ["ssh-rsa AAAAB3 bob@y"]}


def test_named_user_gets_keys_and_hashed_password():
    _, files = read_iso(configdrive.build("i", "h", None, [ALICE]))
    config = cloud_config(files["/user-data"])
    assert config["users"] == ["default", {"name": "alice", "shell": "/bin/bash", "sudo": configdrive.SUDO_ALL,
                                           "ssh_authorized_keys": ["ssh-ed25519 AAAAC3 alice@x"],
                                           "hashed_passwd": "$6$salt$hash", "lock_passwd": False}]
    assert config["ssh_pwauth"] is True
    assert "public-keys" not in meta_data(files)       # a named user's keys are theirs only


def test_default_user_password_is_set_hashed():
    config = cloud_config(read_iso(configdrive.build("i", "h", None, [model.GuestUser(None, [], "$6$s$h")]))[1]
                          ["/user-data"])
    assert (config["password"], config["chpasswd"]) == ("$6$s$h", {"expire": False})


def test_user_data_alone_is_passed_verbatim():
    _, files = read_iso(configdrive.build("i", "h", b"#!/bin/sh\necho hi\n"))
    assert files["/user-data"] == files["/cimi/user-data"] == b"#!/bin/sh\necho hi\n"


def _parts(user_data):
    message = email.message_from_bytes(user_data)
    assert message.get_content_type() == "multipart/mixed"
    return [(p.get_content_type(), p.get_payload(decode=True)) for p in message.get_payload()]


def test_user_data_and_credential_become_a_multipart():
    script = b"#!/bin/sh\necho \xff binary-safe\n"
    _, files = read_iso(configdrive.build("i", "h", script, [ALICE]))
    (user_type, user_part), (config_type, config_part) = _parts(files["/user-data"])
    assert (user_type, user_part) == ("text/plain", script)      # cloud-init types it by its #! line
    assert config_type == "text/cloud-config"
    config = json.loads(config_part)
    assert config["users"][1]["name"] == "alice" and config["merge_how"] == configdrive.MERGE_HOW
    assert files["/cimi/user-data"] == script                     # DSP0263's copy stays the consumer's


def test_text_parts_stay_readable_in_the_multipart():
    """A guest (or a person) reading user-data sees the script and the keys as written."""
    _, files = read_iso(configdrive.build("i", "h", "#!/bin/sh\necho Grüße\n".encode(), [ALICE]))
    assert "#!/bin/sh\necho Grüße\n".encode() in files["/user-data"]
    assert b"ssh-ed25519 AAAAC3 alice@x" in files["/user-data"]
    assert _parts(files["/user-data"])[0] == ("text/plain", "#!/bin/sh\necho Grüße\n".encode())


def test_a_multipart_user_data_keeps_its_parts():
    mime = (b'Content-Type: multipart/mixed; boundary="XX"\nMIME-Version: 1.0\n\n--XX\n'
            b'Content-Type: text/x-shellscript\n\n#!/bin/sh\ntrue\n--XX\n'
            b'Content-Type: text/cloud-config\n\n#cloud-config\npackages: [vim]\n--XX--\n')
    _, files = read_iso(configdrive.build("i", "h", mime, [DEFAULT]))
    parts = _parts(files["/user-data"])
    assert [t for t, _ in parts] == ["text/x-shellscript", "text/cloud-config", "text/cloud-config"]
    assert parts[1][1] == b"#cloud-config\npackages: [vim]"          # the last line break belongs to the boundary


def test_config_drive_is_a_read_only_virtio_disk_the_machine_owns(backend, conn):
    """Debian's cloud kernel has no SATA (AHCI) driver: the drive must be on virtio."""
    image = backend.create_image("base", 64 * 2**20)
    spec = model.MachineSpec(name="ctx1", cpu=1, memory_kib=65536, user_data=b"hello", hostname="web1",
                             disks=[model.DiskSpec(capacity_bytes=64 * 2**20, image_key=image.key),
                                    model.DiskSpec(capacity_bytes=2**20)])
    info = backend.create_machine(spec)
    assert [d.target for d in info.disks] == ["vda", "vdb"]          # the drive is no Machine disk
    dom = etree.fromstring(conn.lookupByName("ctx1").XMLDesc(0))
    assert dom.findall("devices/disk[@device='cdrom']") == []
    drives = dom.xpath("devices/disk[serial='cidata']")
    assert len(drives) == 1
    assert drives[0].find("target").attrib == {"dev": "vdz", "bus": "virtio"}     # vdb, vdc... stay free
    assert drives[0].find("readonly") is not None
    iso_path = drives[0].find("source").get("file")
    assert iso_path.endswith("ctx1-cidata.iso")
    backend.delete_machine(info.key)
    assert iso_path not in [v.path() for v in conn.storagePoolLookupByName("default-pool").listAllVolumes()]


def test_every_machine_gets_a_config_drive(backend, conn):
    """meta-data names the guest even without user data or keys (and cloud-init needs a datasource)."""
    image = backend.create_image("base2", 64 * 2**20)
    backend.create_machine(model.MachineSpec(name="plain", cpu=1, memory_kib=65536,
                                             disks=[model.DiskSpec(64 * 2**20, image_key=image.key)]))
    assert len(etree.fromstring(conn.lookupByName("plain").XMLDesc(0)).xpath("devices/disk[serial='cidata']")) == 1
