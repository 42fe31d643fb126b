"""The cloud-init NoCloud config drive: its files, and its place in a machine's domain."""
import io

import pycdlib
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


def test_user_data_and_keys_reach_nocloud_files():
    label, files = read_iso(configdrive.build("cimi-1", "web1", b"#!/bin/sh\necho hi\n",
                                              ["ssh-ed25519 AAAAC3 alice@x"]))
    assert label == b"cidata"
    assert b"instance-id: cimi-1" in files["/meta-data"] and b"local-hostname: web1" in files["/meta-data"]
    assert b"  - ssh-ed25519 AAAAC3 alice@x" in files["/meta-data"]
    assert files["/user-data"] == files["/cimi/user-data"] == b"#!/bin/sh\necho hi\n"
    assert b"dhcp4: true" in files["/network-config"]


def test_keys_alone_become_a_cloud_config():
    _, files = read_iso(configdrive.build("cimi-2", "db", None, ["ssh-rsa AAAAB3 bob@y"]))
    assert files["/user-data"].startswith(b"#cloud-config\nssh_authorized_keys:\n  - ssh-rsa AAAAB3 bob@y")


def test_machine_with_user_data_gets_a_cdrom_it_owns(backend, conn):
    image = backend.create_image("base", 64 * 2**20)
    spec = model.MachineSpec(name="ctx1", cpu=1, memory_kib=65536, user_data=b"hello",
                             disks=[model.DiskSpec(capacity_bytes=64 * 2**20, image_key=image.key)])
    backend.create_machine(spec)
    dom = etree.fromstring(conn.lookupByName("ctx1").XMLDesc(0))
    cdroms = dom.findall("devices/disk[@device='cdrom']")
    assert len(cdroms) == 1 and cdroms[0].find("target").get("dev") == "sda"
    iso_path = cdroms[0].find("source").get("file")
    assert iso_path.endswith("ctx1-cidata.iso")
    backend.delete_machine(backend.machine(conn.lookupByName("ctx1").UUIDString()).key)
    assert iso_path not in [v.path() for v in conn.storagePoolLookupByName("default-pool").listAllVolumes()]


def test_machine_without_context_has_no_cdrom(backend, conn):
    image = backend.create_image("base2", 64 * 2**20)
    backend.create_machine(model.MachineSpec(name="plain", cpu=1, memory_kib=65536,
                                             disks=[model.DiskSpec(64 * 2**20, image_key=image.key)]))
    assert etree.fromstring(conn.lookupByName("plain").XMLDesc(0)).findall("devices/disk[@device='cdrom']") == []
