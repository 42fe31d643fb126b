"""Benchmark: OVF import throughput against `sha256sum` + `qemu-img convert`, and its peak memory.

In one run:

1. build a package per size (default 1 GiB and 4 GiB of OVA): a sparse raw
   disk of twice that size, half of it random data (1 MiB blocks at random
   offsets, incompressible, so the OVA has the size asked), converted with `qemu-img convert -O vmdk -o subformat=streamOptimized`,
   packed as an OVA (descriptor, SHA256 manifest, disk) into a temp dir;
2. baseline for the first package: `sha256sum <ova>` followed by
   `qemu-img convert -f vmdk -O qcow2 <the same vmdk> out.qcow2`, timed
   end to end (the least an importer must do: read and hash every byte,
   then convert the disk);
3. import: a fresh subprocess starts a Cloud on the libvirt *test driver*
   (`Config(libvirt_uris=["test:///default"])`) and POSTs the SystemTemplate
   collection's import Action through falcon's test client, then waits for
   the Job. On the test driver the image upload is a no-op, so what is timed
   is what dominates on any backend: ovf/ reading the OVA as a stream
   (tar, manifest digests, inspection) and the qemu-img conversion. The child
   reports its wall time (POST to Job SUCCESS) and its own peak RSS
   (`getrusage(RUSAGE_SELF).ru_maxrss`), plus that of qemu-img
   (`RUSAGE_CHILDREN`), each measured in its own process;
4. rounds alternate baseline and import; medians are reported, with the
   ratio baseline/import (target >= 0.8) and the peak RSS of the import at
   each size (target: within 10% of each other).

    .venv/bin/python bench/ovf_import.py [--sizes 1,4] [--rounds 3] [--json FILE]

The page cache is warm for both (each is run after the package was written
and read). Exits 1 if an import fails.
"""
import argparse
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
GIB = 1024 ** 3
MIB = 1024 ** 2
VMDK_URI = "http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"


def make_package(work, gib, seed=5):
    """Build <work>/import/pkg-<gib>g.ova (about gib GiB); return (ova path, vmdk path)."""
    from ovf.model import (
        RT_DISK,
        RT_MEMORY,
        RT_PROCESSOR,
        Disk,
        Envelope,
        File,
        Item,
        VirtualSystem,
    )
    from ovf.writer import write_ova
    size = 2 * gib * GIB
    raw, vmdk = work / f"disk-{gib}g.raw", work / f"disk-{gib}g.vmdk"
    rng = random.Random(seed)
    blocks = sorted(rng.sample(range(size // MIB), size // MIB // 2))
    with open(raw, "wb") as f:
        f.truncate(size)
        for block in blocks:
            f.seek(block * MIB)
            f.write(os.urandom(MIB))
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(raw), str(vmdk)], check=True)
    raw.unlink()
    env = Envelope("1.0", [File("file1", "disk.vmdk", vmdk.stat().st_size)],
                   [Disk("vmdisk1", size, "vmdk-streamOptimized", VMDK_URI, "file1")], [], [],
                   VirtualSystem("bench", "bench", items=[
                       Item("1", RT_PROCESSOR, virtualQuantity="1"),
                       Item("2", RT_MEMORY, virtualQuantity="512", allocationUnits="byte * 2^20"),
                       Item("3", RT_DISK, hostResource=("ovf:/disk/vmdisk1",))]))
    ova = work / "import" / f"pkg-{gib}g.ova"
    ova.parent.mkdir(exist_ok=True)
    ova.unlink(missing_ok=True)
    write_ova(ova, env, [("disk.vmdk", str(vmdk))])        # the export's own writer
    return ova, vmdk


def baseline(ova, vmdk, work):
    out = work / "baseline.qcow2"
    began = time.perf_counter()
    subprocess.run(["sha256sum", str(ova)], check=True, capture_output=True)
    subprocess.run(["qemu-img", "convert", "-f", "vmdk", "-O", "qcow2", str(vmdk), str(out)], check=True)
    elapsed = time.perf_counter() - began
    out.unlink()
    return elapsed


def run_import(ova):
    """Import in a fresh process; return its report (dict)."""
    proc = subprocess.run([sys.executable, __file__, "--child-import", str(ova)],
                          capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"import failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_import(ova):
    """Child: a Cloud on the test driver, one import through the API; print a JSON report."""
    import base64
    import logging
    logging.disable(logging.WARNING)
    from falcon import testing

    from cimi import auth
    from cimi.http.app import create_app
    from cimi.cloud import Cloud, Config
    ova = Path(ova)
    data_dir = tempfile.mkdtemp(prefix="bench-ovf-", dir=ova.parent.parent)
    os.environ["CIMI_ADMIN_PASSWORD"] = "admin-pw"
    cloud = Cloud(Config(data_dir=data_dir, import_dir=str(ova.parent), workers=1, reconcile_every=0,
                         libvirt_uris=["test:///default"]))
    auth.add_user("bench", "bench-pw", admin=True)      # an admin reads the whole import directory
    client = testing.TestClient(create_app(cloud))
    headers = {"Authorization": "Basic " + base64.b64encode(b"bench:bench-pw").decode(), "Accept": "application/json"}
    cep = client.simulate_get("/cimi/cloudEntryPoint", headers=headers).json
    coll = client.simulate_get(cep["systemTemplates"]["href"][cep["systemTemplates"]["href"].index("/cimi"):],
                               headers=headers).json
    op = next(o["href"] for o in coll["operations"] if o["rel"].endswith("/action/import"))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    began = time.perf_counter()
    resp = client.simulate_post(op[op.index("/cimi"):], headers=headers, json={
        "action": "http://schemas.dmtf.org/cimi/1/action/import", "source": f"file://{ova}"})
    assert resp.status_code == 202, resp.text
    job_path = resp.headers["CIMI-Job-URI"][resp.headers["CIMI-Job-URI"].index("/cimi"):]
    while True:
        job = client.simulate_get(job_path, headers=headers).json
        if job["state"] in ("SUCCESS", "FAILED"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - began
    cloud.close()
    import shutil
    shutil.rmtree(data_dir, ignore_errors=True)
    print(json.dumps({"state": job["state"], "message": job.get("statusMessage"), "seconds": elapsed,
                      "maxrss_kib_before_import": rss_before,
                      "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                      "qemu_img_maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
    return 0 if job["state"] == "SUCCESS" else 1


def machine():
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")),
                     platform.processor())
    qemu = subprocess.run(["qemu-img", "--version"], capture_output=True, text=True,
                          check=True).stdout.splitlines()[0]
    return {"cpus": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "kernel": platform.release(), "qemu_img": qemu}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,4", help="OVA sizes in GiB, comma-separated (first: throughput)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", help="save the figures here")
    parser.add_argument("--child-import", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_import:
        return child_import(args.child_import)
    sizes = [int(s) for s in args.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-ovf-", dir="/var/tmp"))
    report = {"machine": machine(), "date": time.strftime("%Y-%m-%d"), "sizes": {}}
    try:
        for n, gib in enumerate(sizes):
            ova, vmdk = make_package(work, gib)
            entry = {"ova_bytes": ova.stat().st_size, "imports": [], "baselines": []}
            baseline(ova, vmdk, work)                               # warm the page cache
            for _ in range(args.rounds if n == 0 else 1):
                if n == 0:
                    entry["baselines"].append(baseline(ova, vmdk, work))
                entry["imports"].append(run_import(ova))
            report["sizes"][gib] = entry
            for state in {i["state"] for i in entry["imports"]} - {"SUCCESS"}:
                raise SystemExit(f"import ended {state}: {entry['imports']}")
            ova.unlink()
            vmdk.unlink()
    finally:
        import shutil
        shutil.rmtree(work, ignore_errors=True)
    first = report["sizes"][sizes[0]]
    base = statistics.median(first["baselines"])
    imp = statistics.median(i["seconds"] for i in first["imports"])
    runs = ", ".join(f"{i['seconds']:.2f}" for i in first["imports"])
    report["baseline_s"], report["import_s"], report["ratio"] = base, imp, base / imp
    print(f"machine: {report['machine']}")
    print(f"OVA of {first['ova_bytes'] / MIB:.0f} MiB ({2 * sizes[0]} GiB disk): "
          f"baseline (sha256sum + qemu-img convert) {base:.2f} s, import {imp:.2f} s "
          f"(runs: {runs}); ratio {base / imp:.2f} (target 0.8)")
    print(f"  throughput (OVA bytes): baseline {first['ova_bytes'] / MIB / base:.0f} MiB/s, "
          f"import {first['ova_bytes'] / MIB / imp:.0f} MiB/s")
    peaks = {}
    for gib, entry in report["sizes"].items():
        peaks[gib] = max(i["maxrss_kib"] for i in entry["imports"])
        qemu = max(i["qemu_img_maxrss_kib"] for i in entry["imports"])
        print(f"{gib} GiB OVA: import process peak RSS {peaks[gib] / 1024:.1f} MiB "
              f"(before the import {entry['imports'][0]['maxrss_kib_before_import'] / 1024:.1f} MiB), "
              f"qemu-img peak RSS {qemu / 1024:.1f} MiB, import {entry['imports'][-1]['seconds']:.2f} s")
    if len(peaks) > 1:
        spread = max(peaks.values()) / min(peaks.values()) - 1
        report["rss_spread"] = spread
        print(f"peak RSS spread between sizes: {spread * 100:.1f}% (target within 10%)")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
