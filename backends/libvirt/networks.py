"""Networks: libvirt virtual networks, keyed by name."""
import logging
import os
import subprocess

import libvirt
from lxml import etree

from backends import model
from backends.base import Conflict
from backends.libvirt import designer, xml
from backends.libvirt.host import is_unsupported

LOG = logging.getLogger(__name__)
SYS_NET = "/sys/class/net"


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
        try:
            net = host.conn.networkDefineXML(conf.to_xml())
        except libvirt.libvirtError:
            net = host.network_or_none(spec.name)    # another Job defined it meanwhile (the default network)
            if net is None:
                raise
    return info(host, net)


def start(host, net):
    """Start the network (autostarted with the host) and plug the running machines' interfaces back into its bridge."""
    if not net.isActive():
        try:
            net.create()
        except libvirt.libvirtError as exc:
            if not net.isActive():                   # else another Job started it meanwhile
                # NOTE: libvirt reports a range the host already routes as an internal error
                if "already in use" not in (exc.get_error_message() or ""):
                    raise
                raise Conflict(f"the host already routes this range: {exc.get_error_message()}") from None
    net.setAutostart(1)
    bridge = _bridge(net)
    for name, mac, tap in _taps(host, net.name()):
        if bridge and _tap_master(tap) not in (bridge, None):
            _plug(name, mac, tap, bridge)
    return info(host, net)


def links(host, net):
    """The running domains' interfaces on the network: [(domain name, mac, connected)].

    NOTE: `net-destroy` unplugs every tap from the bridge, and `net-create`
    plugs none back (libvirt re-attaches them only when its daemon restarts);
    libvirt has no call to ask for, or redo, the plugging, so it is read from
    and done on the local host. A tap that is not a local device (a remote
    host, the test driver) counts as connected while the network runs.
    """
    active = net.isActive()
    bridge = _bridge(net) if active else None
    return [(name, mac, active and _tap_master(tap) in (bridge, None)) for name, mac, tap in _taps(host, net.name())]


def _bridge(net):
    """The network's bridge device, or None (the test driver names none)."""
    return etree.fromstring(net.XMLDesc(0).encode()).xpath("string(bridge/@name)") or None


def _taps(host, network_name):
    """(domain name, mac, tap device) of every running interface on the network."""
    found = []
    for dom in host.domains():
        try:
            if not dom.isActive():
                continue
            tree = etree.fromstring(dom.XMLDesc(0).encode())
        except libvirt.libvirtError as exc:
            if exc.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                raise
            continue                      # NOTE: one deleted while we look has no interfaces
        for iface in tree.iterfind("devices/interface[@type='network']"):
            if iface.find("source").get("network") == network_name:
                tap = iface.find("target")
                found.append((dom.name(), iface.find("mac").get("address").lower(),
                              tap.get("dev") if tap is not None else None))
    return found


def _tap_master(tap):
    """The bridge a local tap device is a port of ("" for none), or None when it is not a local device."""
    if not tap or not os.path.exists(os.path.join(SYS_NET, tap)):
        return None
    master = os.path.join(SYS_NET, tap, "master")
    return os.path.basename(os.readlink(master)) if os.path.islink(master) else ""


def _plug(name, mac, tap, bridge):
    result = subprocess.run(["ip", "link", "set", "dev", tap, "master", bridge], capture_output=True, text=True)
    if result.returncode:
        LOG.warning("could not plug %s (%s of %s) back into %s: %s", tap, mac, name, bridge, result.stderr.strip())
    else:
        LOG.info("plugged %s (%s of %s) back into %s", tap, mac, name, bridge)


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
