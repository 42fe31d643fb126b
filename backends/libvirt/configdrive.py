"""The cloud-init NoCloud config drive: an ISO 9660 image labelled `cidata`.

It carries meta-data, user-data and network-config for cloud-init, and the
same user data as `cimi/user-data`, where DSP0263 5.14.3's "disk" method
puts it; one CD-ROM serves both. Built with pycdlib, without shelling out.
"""
import io

import pycdlib

NETWORK_CONFIG = b"""version: 2
ethernets:
  nics:
    match:
      name: "e*"
    dhcp4: true
"""


def _meta_data(instance_id, hostname, ssh_keys):
    lines = [f"instance-id: {instance_id}", f"local-hostname: {hostname}"]
    if ssh_keys:
        lines.append("public-keys:")
        lines += [f"  - {key.strip()}" for key in ssh_keys]
    return ("\n".join(lines) + "\n").encode()


def _user_data(user_data, ssh_keys):
    """The consumer's user data as given; without it, a cloud-config installing the keys."""
    if user_data:
        return user_data
    keys = "".join(f"  - {key.strip()}\n" for key in ssh_keys)
    return b"#cloud-config\n" + (f"ssh_authorized_keys:\n{keys}".encode() if keys else b"")


def build(instance_id, hostname, user_data=None, ssh_keys=()):
    """Return the bytes of a NoCloud ISO for one machine."""
    files = {"meta-data": _meta_data(instance_id, hostname, ssh_keys),
             "user-data": _user_data(user_data, ssh_keys),
             "network-config": NETWORK_CONFIG}
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="cidata")
    for name, data in files.items():
        _add(iso, name, data)
    iso.add_directory("/CIMI", rr_name="cimi", joliet_path="/cimi")
    _add(iso, "cimi/user-data", user_data or b"")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def _add(iso, path, data):
    # ISO 9660 names are upper case 8.3-ish; Rock Ridge and Joliet carry the real names.
    iso_path = "/" + path.upper().replace("-", "_") + ";1"
    iso.add_fp(io.BytesIO(data), len(data), iso_path, rr_name=path.rsplit("/", 1)[-1], joliet_path="/" + path)
