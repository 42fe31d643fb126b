"""Networks: libvirt virtual networks, keyed by name."""
import libvirt

from backends import model
from backends.libvirt import designer, xml
from backends.libvirt.host import is_unsupported


def info(host, net):
    conf = xml.Network.parse(net.XMLDesc(0))
    return model.NetworkInfo(key=net.name(),
                             state=model.STARTED if net.isActive() else model.STOPPED,
                             mode=designer.network_mode(conf), cidr=designer.network_cidr(conf),
                             host=host.name)


def create(host, spec):
    """Define (not start) a network; an existing one of that name is returned."""
    net = host.network_or_none(spec.name)
    if net is None:
        conf = designer.network(spec.name, spec.mode, spec.cidr)
        net = host.conn.networkDefineXML(conf.to_xml())
    return info(host, net)


def start(host, net):
    """Start a network, and have libvirtd start it again when the host boots."""
    if not net.isActive():
        net.create()
    net.setAutostart(1)
    return info(host, net)


def stop(host, net):
    """Stop a network; it stays stopped when the host boots."""
    if net.isActive():
        net.destroy()
    net.setAutostart(0)
    return info(host, net)


def delete(host, net):
    if net.isActive():
        net.destroy()
    net.undefine()


def leases(host, net):
    """The network's DHCP leases as (mac, ip, hostname); [] when it is stopped or the driver keeps none."""
    if not net.isActive():
        return []
    try:
        found = net.DHCPLeases(None, 0) or []
    except libvirt.libvirtError as exc:
        if is_unsupported(exc):       # NOTE: the test driver has no dnsmasq, hence no leases
            return []
        raise
    return [(lease["mac"].lower(), lease["ipaddr"], lease.get("hostname") or None) for lease in found]
