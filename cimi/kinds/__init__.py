"""One module per family of CIMI kinds, declarations only; importing registers them."""
from cimi import registry
from cimi.kinds import configuration, credential, image, job, machine, metadata, network, system, volume  # noqa: F401
from cimi.kinds import eventlog, exportedpackage, meter, quarantine, quota, user  # noqa: F401


def load_all():
    """Return every kind (importing this package registered them)."""
    return registry.all_kinds()
