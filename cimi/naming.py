"""Names of what this cloud makes on its hosts, unique to this cloud.

Several clouds may share one libvirtd (two installations, or tests): every
machine name carries this cloud's identity, kept in its database, so that
reconciliation only ever removes domains of its own.
"""
_prefix = "cimi-"


def set_identity(cloud_id):
    """Name what follows after this cloud (called once at start)."""
    global _prefix
    _prefix = f"cimi-{cloud_id}-"


def machine_name(row_id):
    """The backend name of a Machine: stable, known before the backend answers."""
    return _prefix + row_id


def machine_id(name):
    """The Machine id a backend name stands for, or None when the name is not this cloud's."""
    return name[len(_prefix):] if name and name.startswith(_prefix) else None


def seed_name(name):
    return f"{_prefix}seed-{name}"


def backend_key(row):
    """Name a machine to the backend by the name it was created with.

    The name is known before the backend answers, so calls still find the
    machine (and deleting it reaps its disks) when a crash kept its key from
    the store.
    """
    return machine_name(row["id"])
