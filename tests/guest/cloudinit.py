"""Read the config drive files the guest printed as cloud-init reads them.

user-data may be a MIME multi-part with base64 parts (the consumer's data
plus a cloud-config of logins), and meta-data values may be quoted (JSON is
YAML): tests compare what cloud-init would see, not the bytes' layout.
"""
import email
import json
import re


def user_data_text(raw):
    """The user-data's text: a multi-part's parts decoded and joined, else as given."""
    message = email.message_from_string(raw)
    if not message.is_multipart():
        return raw
    return "\n".join(part.get_payload(decode=True).decode(errors="replace")
                     for part in message.walk() if not part.is_multipart())


def meta_value(meta, key):
    """The value of a top-level meta-data key (unquoted), or None."""
    found = re.search(rf"^{re.escape(key)}:[ \t]*(.*?)[ \t]*$", meta, re.MULTILINE)
    if not found:
        return None
    value = found.group(1)
    return json.loads(value) if value.startswith('"') else value.strip("'")
