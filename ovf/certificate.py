"""OVF certificates (``.cert``): report signed, unsigned or untrusted.

DSP0243 clause 5.2: the certificate file holds the signed digest of the
manifest, in the manifest line format, followed by a PEM X.509
certificate. We verify with the ``openssl`` command (no crypto library
dependency), in a private temporary directory, with a timeout. A bad
signature refuses the package; a good signature from a certificate that
does not chain to the system trust store is "untrusted", never "signed".
"""

import binascii
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ovf.errors import OVFError

MAX_CERT_BYTES = 1024 * 1024
_SIGNATURE = re.compile(r"^(SHA1|SHA256|SHA512)\s*\((.+)\)\s*=\s*([0-9a-fA-F]+)\s*$",
                        re.MULTILINE)
_PEM = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----",
                  re.DOTALL)

SIGNED, UNSIGNED, UNTRUSTED = "signed", "unsigned", "untrusted"


@dataclass(frozen=True)
class Signature:
    """The trust verdict on a package: status plus a reason for people."""

    status: str
    reason: str


def _openssl(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, capture_output=True,
                          timeout=30, check=False)


def check_certificate(cert: bytes | None, manifest: bytes | None,
                      manifest_name: str) -> Signature:
    """Verify a package certificate against the exact manifest bytes.

    Raises:
        OVFError: on a certificate without a manifest, a malformed
            certificate, or a signature that does not match the manifest.
    """
    if cert is None:
        return Signature(UNSIGNED, "package has no certificate")
    if manifest is None:
        raise OVFError("package has a certificate but no manifest")
    if len(cert) > MAX_CERT_BYTES:
        raise OVFError("certificate is too large")
    text = cert.decode("ascii", errors="replace")
    sig = _SIGNATURE.search(text)
    pem = _PEM.search(text)
    if sig is None or pem is None:
        raise OVFError("certificate lacks a signature line or a PEM certificate")
    algorithm, name, hex_signature = sig.groups()
    if name != manifest_name:
        raise OVFError(f"certificate signs {name!r}, not the manifest "
                       f"{manifest_name!r}")
    if shutil.which("openssl") is None:
        return Signature(UNTRUSTED, "openssl is not available to verify it")
    with tempfile.TemporaryDirectory(prefix="ovf-cert-") as tmp:
        work = Path(tmp)
        (work / "cert.pem").write_text(pem.group(0) + "\n")
        (work / "manifest").write_bytes(manifest)
        (work / "signature").write_bytes(binascii.unhexlify(hex_signature))
        pub = _openssl(["x509", "-in", "cert.pem", "-noout", "-pubkey"], work)
        if pub.returncode != 0:
            raise OVFError("certificate is not a readable X.509 certificate")
        (work / "pub.pem").write_bytes(pub.stdout)
        check = _openssl(["dgst", f"-{algorithm.lower()}", "-verify", "pub.pem",
                          "-signature", "signature", "manifest"], work)
        if check.returncode != 0:
            raise OVFError("certificate signature does not match the manifest")
        chain = _openssl(["verify", "cert.pem"], work)
        if chain.returncode != 0:
            lines = (chain.stdout + chain.stderr).decode(errors="replace").split("\n")
            detail = next((l for l in lines if "error" in l), "not trusted")
            return Signature(UNTRUSTED, f"signature is valid but the signer "
                                        f"is not trusted: {detail.strip()}")
    return Signature(SIGNED, "signature is valid and the signer is trusted")
