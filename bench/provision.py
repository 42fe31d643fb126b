"""Benchmark: POST Machine -> STARTED through the API, against the same steps in raw libvirt calls.

On qemu:///system (libvirtd started as tests/backends/libvirtd_host.py does,
and stopped again if this script started it), in one run:

1. a dir storage pool under /var/tmp, and two base images in it: 100 MiB of
   random bytes and 10 GiB sparse (both raw, so that the size is real);
2. a Cloud (`Config(libvirt_uris=["qemu:///system"], image_pool=volume_pool=<that pool>)`)
   and a falcon test client; the two images become MachineImages;
3. for each size, ROUNDS alternating samples of
   - API: wall time from POST /cimi/machines (1 vCPU, 128 MiB, no NIC, no
     userData) until its Job is SUCCESS and the Machine STARTED (the client
     polls the Job every 2 ms);
   - raw: storagePool.createXML(qcow2 overlay on the image), defineXML,
     domain.create();
   each machine is deleted after its sample (not timed);
4. prints the medians, API/raw per size, and 10 GiB/100 MiB per path.

    .venv/bin/python bench/provision.py [--rounds 7] [--json]

Exits 2 when libvirtd cannot serve qemu:///system, 1 when a target is missed
and --strict is given.
"""
import argparse
import base64
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "backends")]

import libvirt  # noqa: E402
from falcon import testing  # noqa: E402

import libvirtd_host  # noqa: E402
from backends.libvirt import xml  # noqa: E402

MiB, GiB = 1 << 20, 1 << 30
MEMORY_KIB = 131072
SIZES = (("100 MiB", 100 * MiB), ("10 GiB", 10 * GiB))


def make_pool(conn):
    root = Path(tempfile.mkdtemp(prefix="dsc-bench-", dir="/var/tmp"))
    os.chmod(root, 0o755)
    name = "dsc-bench-" + uuid.uuid4().hex[:8]
    conf = xml.StoragePool(type=xml.StoragePool.TYPE_DIR, name=name, target_path=str(root))
    conn.storagePoolDefineXML(conf.to_xml()).create(0)
    return name, root


def drop_pool(conn, name, root):
    pool = conn.storagePoolLookupByName(name)
    for vol in pool.listAllVolumes(0):
        vol.delete(0)
    pool.destroy()
    pool.undefine()
    shutil.rmtree(root, ignore_errors=True)


def base_images(backend, pool_name, conn, work):
    """Return {label: ImageInfo}: 100 MiB of random bytes (uploaded) and 10 GiB sparse (allocation 0)."""
    small = Path(work) / "small.raw"
    with open(small, "wb") as f:
        for _ in range(100):
            f.write(os.urandom(MiB))
    images = {SIZES[0][0]: backend.create_image("bench-base-100m", 0, str(small), "raw")}
    small.unlink()
    pool = conn.storagePoolLookupByName(pool_name)
    conf = xml.StorageVolume(name="bench-base-10g", capacity=SIZES[1][1], capacity_unit="bytes",
                             allocation=0, target_format="raw")
    vol = pool.createXML(conf.to_xml(), 0)
    info = vol.info()
    assert info[1] == SIZES[1][1] and info[2] < 16 * MiB, f"10 GiB base is not sparse: {info}"
    from backends import model
    images[SIZES[1][0]] = model.ImageInfo(key=vol.key(), capacity_bytes=info[1], format="raw")
    return images


class Api:
    def __init__(self, cloud):
        from cimi import auth
        from cimi.http.app import create_app
        auth.add_user("bench", "bench-pw")
        self.tc = testing.TestClient(create_app(cloud))
        token = base64.b64encode(b"bench:bench-pw").decode()
        self.headers = {"Authorization": f"Basic {token}", "Accept": "application/json"}

    def request(self, method, path, body=None):
        resp = self.tc.simulate_request(method, path, headers=self.headers, json=body)
        assert resp.status_code < 400, resp.text
        return resp

    def wait(self, job_href):
        while True:
            job = self.request("GET", job_href[job_href.index("/cimi"):]).json
            if job["state"] in ("SUCCESS", "FAILED"):
                assert job["state"] == "SUCCESS", job.get("statusMessage")
                return
            time.sleep(0.002)

    def provision(self, image_href, name):
        body = {"name": name, "machineTemplate": {
            "machineConfig": {"cpu": 1, "memory": MEMORY_KIB, "cpuArch": "x86_64", "disks": []},
            "machineImage": {"href": image_href}, "initialState": "STARTED"}}
        began = time.perf_counter()
        resp = self.request("POST", "/cimi/machines", body)
        self.wait(resp.headers["CIMI-Job-URI"])
        elapsed = time.perf_counter() - began
        location = resp.headers["Location"]
        machine = self.request("GET", location[location.index("/cimi"):]).json
        assert machine["state"] == "STARTED", machine["state"]
        return elapsed, location[location.index("/cimi"):]

    def delete(self, href):
        self.wait(self.request("DELETE", href).headers["CIMI-Job-URI"])


def raw_provision(conn, pool_name, image, domain_type, name):
    """The same steps in raw libvirt calls: overlay volume, define, create."""
    began = time.perf_counter()
    pool = conn.storagePoolLookupByName(pool_name)
    base = conn.storageVolLookupByKey(image.key)
    vol = pool.createXML(f"""<volume><name>{name}.qcow2</name>
      <capacity unit='bytes'>{image.capacity_bytes}</capacity>
      <target><format type='qcow2'/></target>
      <backingStore><path>{base.path()}</path><format type='raw'/></backingStore></volume>""", 0)
    dom = conn.defineXML(f"""<domain type='{domain_type}'><name>{name}</name>
      <memory unit='KiB'>{MEMORY_KIB}</memory><vcpu>1</vcpu>
      <os><type>hvm</type><boot dev='hd'/></os><features><acpi/></features>
      <devices><disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='{vol.path()}'/><target dev='vda' bus='virtio'/></disk></devices></domain>""")
    dom.create()
    elapsed = time.perf_counter() - began
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    return elapsed, (dom, vol)


def raw_cleanup(dom, vol):
    dom.destroy()
    dom.undefine()
    vol.delete(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args()

    if os.geteuid() != 0:
        print("bench/provision.py must run as root (it starts libvirtd)", file=sys.stderr)
        return 2
    setup = libvirtd_host.Setup()
    data_dir = tempfile.mkdtemp(prefix="dsc-bench-data-")
    conn = cloud = pool = None
    try:
        setup.accounts()
        setup.kvm()
        setup.daemons()
        conn = libvirtd_host._connect()
        if conn is None:
            print("libvirtd does not answer on qemu:///system", file=sys.stderr)
            return 2
        pool = make_pool(conn)
        domain_type = "kvm" if "<domain type='kvm'" in conn.getCapabilities().replace('"', "'") else "qemu"

        os.environ.setdefault("CIMI_ADMIN_PASSWORD", uuid.uuid4().hex)
        from cimi import store
        from cimi.cloud import Cloud, Config
        cloud = Cloud(Config(data_dir=data_dir, workers=2, reconcile_every=0, libvirt_uris=[libvirtd_host.URI],
                             image_pool=pool[0], volume_pool=pool[0]))
        images = base_images(cloud.backend, pool[0], conn, data_dir)
        api = Api(cloud)
        hrefs = {}
        for label, info in images.items():
            row = store.insert("MachineImage", {"name": f"bench {label}", "state": "AVAILABLE", "data": {
                "type": "IMAGE", "imageLocation": info.key, "_key": info.key,
                "_bytes": info.capacity_bytes, "_format": info.format}})
            hrefs[label] = f"/cimi/machineImages/{row['id']}"

        samples = {(label, path): [] for label, _ in SIZES for path in ("api", "raw")}
        for n in range(args.rounds + 1):                    # round 0 warms caches, not counted
            for label, _size in SIZES:
                elapsed, href = api.provision(hrefs[label], f"bench-{n}")
                api.delete(href)
                if n:
                    samples[(label, "api")].append(elapsed)
                elapsed, made = raw_provision(conn, pool[0], images[label], domain_type,
                                              f"bench-raw-{uuid.uuid4().hex[:8]}")
                raw_cleanup(*made)
                if n:
                    samples[(label, "raw")].append(elapsed)

        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"qemu:///system, domain type {domain_type}, {args.rounds} rounds, medians in ms")
        print(f"{'image':>8} {'API':>8} {'raw':>8} {'API/raw':>8}")
        for label, _ in SIZES:
            a, r = med[(label, "api")], med[(label, "raw")]
            print(f"{label:>8} {a * 1000:8.1f} {r * 1000:8.1f} {a / r:8.3f}")
        big, small = SIZES[1][0], SIZES[0][0]
        size_api = med[(big, "api")] / med[(small, "api")]
        size_raw = med[(big, "raw")] / med[(small, "raw")]
        print(f"10 GiB / 100 MiB: API {size_api:.3f}, raw {size_raw:.3f}")
        ratios = [med[(label, "api")] / med[(label, "raw")] for label, _ in SIZES]
        ok = max(ratios) <= 1.2 and abs(size_api - 1) <= 0.10
        print("targets (API/raw <= 1.2, sizes within 10%):", "met" if ok else "MISSED")
        if args.json:
            print(json.dumps({"machine": platform.node(), "domain_type": domain_type, "rounds": args.rounds,
                              "samples_ms": {f"{k[0]} {k[1]}": [round(x * 1000, 1) for x in v]
                                             for k, v in samples.items()}}))
        return 1 if args.strict and not ok else 0
    finally:
        if cloud is not None:
            cloud.close()
        if pool is not None:
            try:
                fresh = libvirtd_host._connect()       # the first connection may have died with libvirtd
                drop_pool(fresh, *pool)
                fresh.close()
            except (libvirt.libvirtError, AttributeError) as exc:
                print(f"could not remove pool {pool[0]}: {exc}", file=sys.stderr)
        setup.revert()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
