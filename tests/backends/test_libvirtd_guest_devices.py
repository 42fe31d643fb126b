"""What a guest gets on a real libvirtd under TCG: console log, VNC, CPU model, config drive."""
import io
import os
import pathlib
import shutil
import tempfile

import pycdlib
import pytest
from lxml import etree

from backends import model
from backends.libvirt import LibvirtBackend

pytestmark = pytest.mark.libvirtd
MiB = 1 << 20


@pytest.fixture
def tcg(libvirtd, libvirtd_pool):
    """A backend forcing TCG, with console logs in a fresh directory; yields (backend, observer, consoles, made)."""
    pool, _qcow2 = libvirtd_pool
    consoles = pathlib.Path(tempfile.mkdtemp(prefix="dsc-consoles-", dir="/var/tmp"))
    b = LibvirtBackend(libvirtd, image_pool=pool, volume_pool=pool, domain_type="qemu", console_dir=str(consoles))
    observer = b._host().conn
    made = []
    yield b, observer, consoles, made
    for key in reversed(made):
        b.delete_machine(key)
    b.close()
    shutil.rmtree(consoles)


def _download(conn, path):
    vol = conn.storageVolLookupByKey(path)
    stream = conn.newStream(0)
    vol.download(stream, 0, vol.info()[1], 0)
    data = bytearray()
    while chunk := stream.recv(MiB):
        data += chunk
    stream.finish()
    return bytes(data)


def test_running_machine_has_a_logged_console_a_loopback_vnc_and_a_v2_cpu(tcg):
    b, observer, consoles, made = tcg
    name = "dsc-console-" + os.urandom(4).hex()
    m = b.create_machine(model.MachineSpec(name, 1, 65536, disks=[model.DiskSpec(MiB)]))
    made.append(m.key)
    assert b.console_log(m.key, 10) == ""                      # never ran: no log yet
    started = b.start_machine(m.key)
    live = etree.fromstring(observer.lookupByUUIDString(m.key).XMLDesc(0))
    assert live.get("type") == "qemu"
    assert live.findtext("cpu/model") == "Nehalem"              # SSE4.2 + POPCNT, not qemu64
    [vnc] = live.findall("devices/graphics[@type='vnc']")
    assert vnc.get("listen") == "127.0.0.1" and int(vnc.get("port")) >= 5900
    assert started.vnc == f"127.0.0.1:{vnc.get('port')}" == b.machine(m.key).vnc
    log = consoles / f"{name}-console.log"
    assert live.xpath("devices/serial/log/@file") == [str(log)]
    assert log.exists()                                         # virtlogd opened it at start
    log_text = b.console_log(m.key, 10)
    assert isinstance(log_text, str)
    assert b.stop_machine(m.key, force=True).vnc is None
    b.delete_machine(m.key)
    assert not log.exists()                                     # a deleted machine leaves no log


def test_config_drive_is_a_virtio_disk_with_the_machine_s_names(tcg):
    """Cloud kernels without AHCI read it; meta-data names the Machine, users carry the Credential."""
    b, observer, _consoles, made = tcg
    user = model.GuestUser("alice", ["ssh-ed25519 AAAA t@x"], "$6$salt$hash")
    m = b.create_machine(model.MachineSpec("dsc-ctx-" + os.urandom(4).hex(), 1, 65536, disks=[model.DiskSpec(MiB)],
                                           user_data=b"#cloud-config\n", users=[user],
                                           hostname="web1", instance_id="1c0ffee"))
    made.append(m.key)
    assert b.start_machine(m.key).state == model.STARTED
    live = etree.fromstring(observer.lookupByUUIDString(m.key).XMLDesc(0))
    [drive] = live.xpath("devices/disk[serial='cidata']")
    assert drive.find("target").get("bus") == "virtio" and drive.find("readonly") is not None
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(_download(observer, drive.find("source").get("file"))))
    files = {}
    for path in ("/meta-data", "/user-data"):
        out = io.BytesIO()
        iso.get_file_from_iso_fp(out, rr_path=path)
        files[path] = out.getvalue()
    assert iso.pvd.volume_identifier.strip() == b"cidata"
    iso.close()
    assert files["/meta-data"] == b"instance-id: 1c0ffee\nlocal-hostname: web1\n"
    assert b"multipart/mixed" in files["/user-data"] and b'"hashed_passwd": "$6$salt$hash"' in files["/user-data"]
