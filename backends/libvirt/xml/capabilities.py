"""Capabilities XML: which domain types a hypervisor offers per guest arch."""
from backends.libvirt.xml.base import Children, Prop, XMLObject


class GuestDomain(XMLObject):
    TAG = "domain"
    type = Prop("@type")


class Guest(XMLObject):
    """<guest>: one (os_type, arch) the hypervisor can run."""
    TAG = "guest"
    os_type = Prop("os_type")
    arch = Prop("arch/@name")
    domains = Children(GuestDomain, "arch")


class Capabilities(XMLObject):
    """<capabilities> as returned by virConnectGetCapabilities."""
    TAG = "capabilities"
    host_arch = Prop("host/cpu/arch")
    guests = Children(Guest)

    def domain_types(self, os_type="hvm"):
        """Return the domain types offered for the host's own arch."""
        return [d.type for g in self.guests
                if g.os_type == os_type and g.arch == self.host_arch
                for d in g.domains]
