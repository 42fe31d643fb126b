"""One module per family of CIMI kinds, mostly declarations; importing registers them."""
from cimi.kinds import configuration, credential, image, job, machine, metadata, network, system, volume  # noqa: F401
from cimi.kinds import exportedpackage  # noqa: F401
