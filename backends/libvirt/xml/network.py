"""Network XML: <network> (https://libvirt.org/formatnetwork.html)."""
from backends.libvirt.xml.base import Prop, XMLObject


class Network(XMLObject):
    """<network>: an isolated (no <forward>) or NAT virtual network."""
    TAG = "network"
    FORWARD_NAT = "nat"
    FORWARD_MODES = [FORWARD_NAT]

    name = Prop("name")
    uuid = Prop("uuid")
    forward_mode = Prop("forward/@mode")
    ip_address = Prop("ip/@address")
    ip_netmask = Prop("ip/@netmask")
    dhcp_start = Prop("ip/dhcp/range/@start")
    dhcp_end = Prop("ip/dhcp/range/@end")
