"""export_disk: a volume's bytes streamed out of libvirt (backends/libvirt/export.py)."""
import hashlib
import os
import subprocess

import pytest

from backends import NotFound, model
from backends.libvirt import LibvirtBackend
from ovf import disks as ovf_disks

MiB = 1 << 20


def qemu_info(path, fmt):
    import json
    out = subprocess.run(["qemu-img", "info", "-f", fmt, "--output=json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def guest_sha256(path, fmt, tmp_path):
    raw = tmp_path / (os.path.basename(path) + ".raw")
    subprocess.run(["qemu-img", "convert", "-q", "-f", fmt, "-O", "raw", str(path), str(raw)], check=True)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    raw.unlink()
    return digest


def test_test_driver_writes_a_blank_qcow2_of_the_disk_capacity(backend, tmp_path):
    image = backend.create_image("img", 2 * MiB)
    m = backend.create_machine(model.MachineSpec("exp", 1, 65536, disks=[model.DiskSpec(5 * MiB, image.key)]))
    (disk,) = backend.machine(m.key).disks
    out = tmp_path / "vda.qcow2"
    info = backend.export_disk(disk.key, str(out))
    assert (info.format, info.capacity_bytes) == ("qcow2", 5 * MiB)
    assert ovf_disks.inspect_file(str(out)).format == "qcow2"
    assert qemu_info(out, "qcow2")["virtual-size"] == 5 * MiB


def test_unknown_volume_is_not_found(backend, tmp_path):
    with pytest.raises(NotFound):
        backend.export_disk("/no/such/volume", str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


@pytest.fixture
def real(libvirtd, libvirtd_pool):
    pool, _qcow2 = libvirtd_pool
    b = LibvirtBackend(libvirtd, image_pool=pool, volume_pool=pool)
    made = []
    yield b, made
    for kind, key in reversed(made):
        getattr(b, f"delete_{kind}")(key)
    b.close()


@pytest.mark.libvirtd
def test_raw_volume_bytes_come_out_verbatim(real, tmp_path):
    b, made = real
    payload = os.urandom(3 * MiB + 123)               # several chunks, an odd tail
    source = tmp_path / "in.raw"
    source.write_bytes(payload)
    image = b.create_image("export-raw", 0, str(source), "raw")
    made.append(("image", image.key))
    out = tmp_path / "out.raw"
    info = b.export_disk(image.key, str(out))
    assert (info.format, info.capacity_bytes) == ("raw", len(payload))
    assert out.read_bytes() == payload


@pytest.mark.libvirtd
def test_machine_overlay_is_flattened_and_the_copy_removed(real, tmp_path):
    """A machine disk is an overlay on its image: the export must stand alone, content intact."""
    b, made = real
    raw = tmp_path / "seed.raw"
    with open(raw, "wb") as f:
        f.truncate(8 * MiB)
        f.seek(2 * MiB)
        f.write(os.urandom(MiB))
    seed = tmp_path / "seed.qcow2"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", str(raw), str(seed)], check=True)
    image = b.create_image("export-base", 0, str(seed), "qcow2")
    made.append(("image", image.key))
    m = b.create_machine(model.MachineSpec("export-overlay", 1, 65536, disks=[model.DiskSpec(0, image.key)]))
    made.append(("machine", m.key))
    pool = b._host().pool(b.volume_pool)
    before = sorted(v.name() for v in pool.listAllVolumes(0))
    (disk,) = b.machine(m.key).disks
    out = tmp_path / "vda.qcow2"
    info = b.export_disk(disk.key, str(out))
    assert info.format == "qcow2" and info.capacity_bytes == 8 * MiB
    assert "backing-filename" not in qemu_info(out, "qcow2")
    assert ovf_disks.inspect_file(str(out)).format == "qcow2"      # would refuse a backing file
    assert guest_sha256(out, "qcow2", tmp_path) == guest_sha256(raw, "raw", tmp_path)
    pool.refresh(0)
    assert sorted(v.name() for v in pool.listAllVolumes(0)) == before
