"""Apache Libcloud compute driver for DMTF CIMI 1.x providers (such as darn simple cloud).

    import cimiclient.libcloud                     # registers the provider name "cimi"
    from libcloud.compute.providers import get_driver
    from libcloud.compute.base import NodeAuthSSHKey
    cls = get_driver("cimi")
    driver = cls("alice", "s3cret", host="127.0.0.1", port=8080, secure=False)
    size = [s for s in driver.list_sizes() if s.name == "small"][0]
    node = driver.create_node("web1", size=size, image=driver.list_images()[0],
                              auth=NodeAuthSSHKey(open("id.pub").read()), ex_userdata="#cloud-config\\n")

Written like libcloud's own drivers: a Connection with the credentials
(connection.py), conversions to Node/NodeSize/NodeImage/StorageVolume/KeyPair
(convert.py), the NodeDriver (driver.py), and libcloud's exception types for
every error (errors.py). The CIMI logic itself is the shared client in
:mod:`cimiclient`, given libcloud's Connection as its transport.
"""
from cimiclient.libcloud.connection import CIMIConnection, CIMIResponse
from cimiclient.libcloud.convert import CIMINetwork
from cimiclient.libcloud.driver import PROVIDER, CIMINodeDriver
from cimiclient.libcloud.errors import (
    CIMIConflictError,
    CIMIError,
    CIMIJobFailedError,
    CIMINotFoundError,
    CIMIServiceUnavailableError,
)

__all__ = ["PROVIDER", "CIMIConflictError", "CIMIConnection", "CIMIError", "CIMIJobFailedError", "CIMINetwork",
           "CIMINodeDriver", "CIMINotFoundError", "CIMIResponse", "CIMIServiceUnavailableError", "register"]


def register():
    """Register the driver with libcloud under the provider name "cimi" (idempotent)."""
    from libcloud.compute.providers import DRIVERS, set_driver
    if PROVIDER not in DRIVERS:
        set_driver(PROVIDER, "cimiclient.libcloud", "CIMINodeDriver")


register()
