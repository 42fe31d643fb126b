"""SSH key pairs for Libcloud's key pair calls: made locally (ssh-keygen), kept as CIMI Credentials."""
import base64
import hashlib
import os
import shutil
import subprocess
import tempfile

from libcloud.common.types import LibcloudError


def generate(comment: str) -> tuple[str, str]:
    """A new ed25519 key pair: (private key in OpenSSH format, public key line).

    The private key never leaves this machine; only the public key is sent.
    """
    if not shutil.which("ssh-keygen"):
        raise LibcloudError("create_key_pair needs ssh-keygen (Debian: apt-get install openssh-client)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                       check=True, stdin=subprocess.DEVNULL, capture_output=True)
        with open(path, encoding="ascii") as private, open(path + ".pub", encoding="ascii") as public:
            return private.read(), public.read().strip()


def fingerprint(public_key: str) -> str:
    """The key's SHA256 fingerprint as ssh-keygen -l prints it."""
    try:
        blob = base64.b64decode(public_key.split()[1])
    except (IndexError, ValueError):
        return ""
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
