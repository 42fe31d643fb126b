"""The running cloud: configuration, store, backend, job workers, seeding."""
import datetime
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import backends
import schemas
from cimi import auth, kinds, naming, registry, represent, store
from cimi.store import migrations, settings
from cimi.ops import metadata, meters
from cimi.vocabulary import type_uri

log = logging.getLogger(__name__)
GIB = 1024 ** 3

# What a newcomer can create a Machine from at once (memory in KiB).
SEED_CONFIGS = (("small", 1, 512 * 1024, 4), ("medium", 2, 2048 * 1024, 10), ("large", 4, 8192 * 1024, 20))
SEED_IMAGE = ("blank", 1 * GIB)


@dataclass
class Config:
    bind: str = "127.0.0.1:8080"
    database: str | None = None              # default: sqlite under data_dir
    libvirt_uris: list = field(default_factory=lambda: ["test:///default"])
    data_dir: str = "./var"
    max_body: int = 1024 * 1024
    max_upload: int = 64 * GIB                # bytes of one image upload or registered image file
    workers: int = 4
    reconcile_every: float = 30.0            # seconds between reconciliation passes (0: never)
    lease_poll: float = 2.0                  # seconds between lease reads while a started NIC has no Address (0: off)
    job_lease: float = 15.0                  # seconds after which a dead server's running job is failed
    import_dir: str | None = None            # OVF packages may be imported from here (default: data_dir/import)
    export_dir: str | None = None            # exported OVAs are written here (default: data_dir/exports)
    export_retention: float = 7 * 86400.0    # seconds an exported OVA is kept (then removed with its resource)
    # seconds a deleted resource stays in quarantine, by collection (machines, volumes, machineImages);
    # absent or 0: removed at once. An owner's Quota may say otherwise (cimi/ops/quarantine.py).
    quarantine_retention: dict = field(default_factory=dict)
    image_pool: str | None = None            # libvirt storage pools; None: the backend's default
    volume_pool: str | None = None
    default_network: str = "default"         # NAT Network of Machines created without NICs ("": none)
    default_network_cidr: str = "192.168.122.0/24"
    detach_timeout: float = 30.0             # seconds a running guest has to release a detached Volume
    domain_type: str | None = None           # "kvm" or "qemu"; None: the best the host offers
    console_dir: str | None = None           # where serial console logs go; None: the backend's default
    stop_timeout: float = 60.0               # seconds a graceful stop waits for the guest before powering off
    resume_on_start: str = "start"           # STARTED machines a host restart stopped: "start" them or "report"
    create_pool: bool = True                 # create a missing pool (backends/libvirt/pools.py); False: refuse
    public_entry_point: bool = True          # GET of the CloudEntryPoint without credentials

    @property
    def database_url(self):
        return self.database or f"sqlite:///{Path(self.data_dir).resolve() / 'cimi.sqlite3'}"


class Cloud:
    """Everything a request or a job needs, started once per process."""

    def __init__(self, config, backend=None, start_workers=True):
        from cimi.jobs import Runner
        self.config = config
        config.import_dir = config.import_dir or os.path.join(config.data_dir, "import")
        os.makedirs(config.import_dir, exist_ok=True)
        config.export_dir = config.export_dir or os.path.join(config.data_dir, "exports")
        os.makedirs(config.export_dir, exist_ok=True)
        kinds.load_all()
        self.database = store.open_database(config.database_url)
        migrations.migrate(self.database)
        with store.exclusive(self.database):          # once, however many front ends start together
            auth.ensure_admin(log)
        self.cloud_id = settings.get("cloud_id")
        naming.set_identity(self.cloud_id)
        self.backend = backend or backends.open_backend(config.libvirt_uris[0], hosts=config.libvirt_uris,
                                                        image_pool=config.image_pool,
                                                        volume_pool=config.volume_pool,
                                                        domain_type=config.domain_type,
                                                        console_dir=config.console_dir,
                                                        create_pools=config.create_pool)
        self.authenticator = auth.Authenticator()
        self.jobs = Runner(self, threads=config.workers, reconcile_every=config.reconcile_every,
                           lease=datetime.timedelta(seconds=config.job_lease), lease_poll=config.lease_poll)
        with store.exclusive(self.database):
            metadata.publish()
            self.seed()
            meters.seed()
        if start_workers:
            self.jobs.start()

    def close(self):
        self.jobs.stop()
        self.database.close()

    # --- seeding ---------------------------------------------------------------------
    def seed(self):
        """On an empty store, add configurations and a blank image (provider-owned)."""
        if not store.exists("MachineConfiguration"):
            for name, cpu, memory, disk_gib in SEED_CONFIGS:
                store.insert("MachineConfiguration", {
                    "name": name, "description": f"{cpu} vCPU, {memory // 1024} MiB",
                    "data": {"cpu": cpu, "memory": memory, "cpuArch": "x86_64",
                             "disks": [{"capacity": disk_gib * 1024 * 1024, "format": "raw",
                                        "initialLocation": "vda"}]}})
        if not store.exists("MachineImage", owner=None):
            name, size = SEED_IMAGE
            copies = [self.backend.create_image(naming.seed_name(name), size, host=host.name)
                      for host in self.backend.hosts()]           # one on every host
            info = copies[0]
            store.insert("MachineImage", {
                "name": name, "description": "a blank qcow2 disk, to try the API",
                "state": "AVAILABLE", "data": {"type": "IMAGE", "imageLocation": info.key, "_key": info.key,
                                               "_hosts": {c.host: c.key for c in copies},
                                               "_bytes": info.capacity_bytes, "_format": info.format}})

    # --- the entry point -----------------------------------------------------------------
    def entry_point(self, ctx):
        doc = {"resourceURI": type_uri("CloudEntryPoint"), "id": ctx.base + "cloudEntryPoint",
               "name": "darn simple cloud", "description": "a CIMI cloud on libvirt", "baseURI": ctx.base}
        for name, prop in schemas.load("CloudEntryPoint")["properties"].items():
            kind = registry.by_collection(name)
            if kind is not None and "x-collection" in prop:
                doc[name] = {"href": represent.collection_href(ctx, kind)}
        return doc

