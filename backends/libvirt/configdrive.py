"""The cloud-init NoCloud config drive: an ISO 9660 image labelled `cidata`.

It carries meta-data, user-data and network-config for cloud-init, and the
same user data as `cimi/user-data`, where DSP0263 5.14.3's "disk" method
puts it. Built with pycdlib, without shelling out.

Logins (`model.GuestUser`, from a Credential) become a cloud-config: named
users in `users:` (after the image's `default` one), the default user's keys
in `ssh_authorized_keys` and in meta-data's `public-keys`. When the consumer
gave user data as well, user-data is a MIME multi-part holding their data and
that cloud-config, which asks cloud-init to append lists and keep their keys
(`merge_how`), so neither replaces the other. The cloud-config is written as
JSON, which YAML reads, so no value can break its syntax.
"""
import email
import email.charset
import io
import json
import re
from email import encoders
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText

import pycdlib

NETWORK_CONFIG = b"""version: 2
ethernets:
  nics:
    match:
      name: "e*"
    dhcp4: true
"""
# cloud-init merging: lists are appended, the consumer's own settings stay.
MERGE_HOW = [{"name": "list", "settings": ["append"]},
             {"name": "dict", "settings": ["no_replace", "recurse_list"]}]
SUDO_ALL = "ALL=(ALL) NOPASSWD:ALL"      # the consumer owns the machine
YAML_WORDS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}   # YAML 1.1 non-strings
MIME_LINE = 998                          # longest line a MIME part may carry unencoded (RFC 5322 2.1.1)


def guest_hostname(name, fallback):
    """Return name as a valid host name (RFC 1123 letters, digits, "-" and "."), or fallback."""
    cleaned = re.sub(r"[^A-Za-z0-9.-]+", "-", name or "").strip("-.")[:253]
    return cleaned or fallback


def _meta_data(instance_id, hostname, users):
    meta = {"instance-id": instance_id, "local-hostname": hostname}
    keys = [k.strip() for u in users if u.name is None for k in u.ssh_keys]
    if keys:
        meta["public-keys"] = keys
    return "".join(f"{k}: {_scalar(v)}\n" for k, v in meta.items()).encode()


def _scalar(value):
    """Write a meta-data value as YAML: plain when YAML reads it back as that string, else quoted."""
    if (isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9.-]*", value)
            and re.search(r"[A-Za-z]", value) and not re.fullmatch(r"0[xXbB][0-9A-Fa-f]*", value)
            and value.lower() not in YAML_WORDS):
        return value
    return json.dumps(value)


def cloud_config(users):
    """Return the cloud-config (a dict) that creates these logins."""
    config, named = {}, []
    for user in users:
        keys = [k.strip() for k in user.ssh_keys]
        if user.name is None:
            config.setdefault("ssh_authorized_keys", []).extend(keys)
            if user.password_hash:
                config["password"] = user.password_hash         # cloud-init sees it is hashed
                config["chpasswd"] = {"expire": False}
            continue
        entry = {"name": user.name, "shell": "/bin/bash", "sudo": SUDO_ALL}
        if keys:
            entry["ssh_authorized_keys"] = keys
        if user.password_hash:
            entry.update(hashed_passwd=user.password_hash, lock_passwd=False)
        named.append(entry)
    if named:
        config["users"] = ["default", *named]
    if any(u.password_hash for u in users):
        config["ssh_pwauth"] = True          # a Credential's password is there to log in with
    return config


def _user_data(user_data, users):
    """The consumer's user data, the logins' cloud-config, or a multi-part of both."""
    config = cloud_config(users)
    if not user_data:
        return b"#cloud-config\n" + json.dumps(config, indent=2).encode() + b"\n"
    if not config:
        return user_data
    config["merge_how"] = MERGE_HOW
    message = MIMEMultipart()
    given = email.message_from_bytes(user_data)
    # NOTE: text/plain tells cloud-init to type a part by its first line (#!, #cloud-config, ...).
    for part in given.get_payload() if given.is_multipart() else [_part(user_data, "text/plain")]:
        message.attach(part)
    message.attach(_part(json.dumps(config, indent=2).encode(), "text/cloud-config"))
    return message.as_bytes()


def _part(data, content_type):
    """One MIME part: text as it is (8bit, readable in the guest), other bytes in Base64."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(len(line) <= MIME_LINE for line in data.splitlines()):
        charset = email.charset.Charset("utf-8")
        charset.body_encoding = None
        return MIMEText(text, content_type.split("/")[1], charset)
    part = MIMENonMultipart(*content_type.split("/"))
    part.set_payload(data)
    encoders.encode_base64(part)
    return part


def build(instance_id, hostname, user_data=None, users=()):
    """Return the bytes of a NoCloud ISO for one machine."""
    files = {"meta-data": _meta_data(instance_id, guest_hostname(hostname, instance_id), users),
             "user-data": _user_data(user_data, users),
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
