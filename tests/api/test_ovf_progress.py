"""Import progress in real steps: bytes sent while uploading, bytes read and converted in the Job."""
import os
import subprocess
import time

from cimiclient import Client as CimiClient
from cimiclient import HttpTransport
from ovf import disks
from tests.api.test_ovf_import import CIMI, import_op, user_import_dir
from tests.api.test_server import live_server  # noqa: F401
from tests.ovf.conftest import descriptor, manifest_line, write_ova

MIB = 1 << 20


def random_vmdk(tmp_path, mib):
    """A streamOptimized VMDK of `mib` MiB of random (incompressible) bytes."""
    raw = tmp_path / "random.raw"
    raw.write_bytes(os.urandom(mib * MIB))
    out = tmp_path / "random.vmdk"
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(raw), str(out)], check=True)
    return raw, out.read_bytes()


def ova_of(path, disk, capacity):
    desc = descriptor(size=len(disk), capacity=capacity)
    mf = manifest_line("vm.ovf", desc) + manifest_line("disk.vmdk", disk)
    return write_ova(path, [("vm.ovf", desc), ("vm.mf", mf.encode()), ("disk.vmdk", disk)])


def test_qemu_img_progress_is_reported(tmp_path):
    raw, _ = random_vmdk(tmp_path, 32)
    seen = []
    disks.convert_to_qcow2(str(raw), str(tmp_path / "out.qcow2"), disks.inspect_file(str(raw)), progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 100.0
    assert len([p for p in seen if 0 < p < 100]) >= 5, seen


def test_import_job_moves_in_steps(alice, cloud, tmp_path):
    _, disk = random_vmdk(tmp_path, 48)
    ova = ova_of(user_import_dir(cloud) / "big.ova", disk, 48 * MIB)
    resp = alice.post(import_op(alice), {"action": f"{CIMI}/action/import", "source": str(ova)})
    assert resp.status_code == 202, resp.text
    seen = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = alice.get(resp.headers["CIMI-Job-URI"]).json
        seen.append((job.get("progress", 0), job.get("statusMessage", "")))
        if job["state"] in ("SUCCESS", "FAILED"):
            break
        time.sleep(0.005)
    assert job["state"] == "SUCCESS", job.get("statusMessage")
    steps = sorted({p for p, _ in seen if 0 < p < 100})
    assert len(steps) >= 4, seen                       # not 0 % then 99 %
    assert any(m.startswith("read ") for _, m in seen) and any(m.startswith("converted ") for _, m in seen), seen


def test_upload_reports_the_bytes_sent(live_server, tmp_path):  # noqa: F811
    base, password, _ = live_server
    _, disk = random_vmdk(tmp_path, 2)
    ova = ova_of(tmp_path / "up.ova", disk, 2 * MIB)
    client = CimiClient(base + "/cimi/", HttpTransport("admin", password))
    sent = []
    result = client.upload_package(ova, name="up", on_sent=lambda done, total: sent.append((done, total)))
    assert result.job
    size = ova.stat().st_size
    assert sent[-1] == (size, size) and len(sent) >= 10
    assert [d for d, _ in sent] == sorted(d for d, _ in sent)
