"""Placement: the host a new Machine goes to, and its image's copy there.

Capacity is libvirt's own figures (memory, free memory, CPUs) minus what this
cloud already placed on each host; vCPUs may be overcommitted, memory not.
An image lives on the host it was made on; a Machine placed elsewhere gets a
copy made there first (streamed out of one host and into the other), recorded
so it is made once.
"""
import os
import tempfile

from cimi import errors, store

CPU_OVERCOMMIT = 4


def placed_load():
    """Return {host: (vCPUs, memory KiB)} of the Machines this cloud placed."""
    load = {}
    for row in store.rows("Machine"):
        data = row["data"]
        cpu, memory = load.get(data.get("host"), (0, 0))
        load[data.get("host")] = (cpu + data.get("cpu", 0), memory + data.get("memory", 0))
    return load


def choose(hosts, load, cpu, memory_kib):
    """Return the name of the host with the most memory left that fits; None when there is one host."""
    if len(hosts) <= 1:
        return hosts[0].name if hosts else None

    def room(host):
        placed_cpu, placed_memory = load.get(host.name, (0, 0))
        memory = host.memory_kib - placed_memory
        if host.free_memory_kib:                   # 0: the driver does not say (the test driver)
            memory = min(memory, host.free_memory_kib)
        return memory, host.cpus * CPU_OVERCOMMIT - placed_cpu
    fitting = [h for h in hosts if room(h)[0] >= memory_kib and room(h)[1] >= cpu]
    if not fitting:
        raise errors.Conflict("no host has enough free memory and CPUs for this Machine")
    return max(fitting, key=lambda h: room(h)[0]).name


def place(backend, cpu, memory_kib, only=None):
    """Choose the host of a new Machine, among `only` when given (a Job's step: it asks the hosts)."""
    hosts = backend.hosts()
    if only:
        hosts = [h for h in hosts if h.name in only]
    return choose(hosts, placed_load() if len(hosts) > 1 else {}, cpu, memory_kib)


def image_keys(image, default_host):
    """Return {host: key} of an image's copies (older rows name one key, on the first host)."""
    return image["data"].get("_hosts") or {default_host: image["data"]["_key"]}


def image_on(job, image_id, host):
    """Return the key of the image's copy on host, making the copy when there is none yet."""
    backend = job.backend
    default_host = backend.hosts()[0].name
    image = store.get("MachineImage", image_id)
    keys = image_keys(image, default_host)
    if host is None or host in keys:
        return keys.get(host or default_host, image["data"]["_key"])
    source_host, source_key = next(iter(keys.items()))
    with tempfile.TemporaryDirectory(dir=job.ctx.cloud.config.data_dir) as work:
        path = os.path.join(work, "image")
        exported = backend.export_disk(source_key, path)
        job.progress(20, f"copying the image from {source_host} to {host}")
        copy = backend.create_image(f"{source_key.rsplit('/', 1)[-1]}-on-{host.replace('/', '_')}",
                                    exported.capacity_bytes, source_path=path,
                                    source_format=exported.format, host=host)
    image = store.get("MachineImage", image_id)
    keys = {**image_keys(image, default_host), host: copy.key}
    store.update("MachineImage", image_id, {"data": {**image["data"], "_hosts": keys}})
    return copy.key
