"""Manifest parsing and certificate verdicts."""

import subprocess

import pytest

from ovf import certificate, manifest
from ovf.errors import OVFError

D1 = "a" * 40
D256 = "b" * 64


def test_both_line_forms_and_crlf():
    data = f"SHA1(a.ovf)= {D1}\r\nSHA256 (b.vmdk) = {D256.upper()}\r\n\r\n".encode()
    entries = manifest.parse_manifest(data)
    assert entries == {"a.ovf": manifest.Entry("SHA1", D1),
                       "b.vmdk": manifest.Entry("SHA256", D256)}


@pytest.mark.parametrize("data,match", [
    (b"junk line\n", "not 'ALG"),
    (f"SHA256(a)= {D1}\n".encode(), "wrong length"),
    (f"SHA1(a)= {D1}\nSHA1(a)= {D1}\n".encode(), "twice"),
    (b"MD5(a)= 0123\n", "not 'ALG"),
    (b"", "empty"),
])
def test_malformed_manifests_refused(data, match):
    with pytest.raises(OVFError, match=match):
        manifest.parse_manifest(data)


def test_sha1_refused_for_ovf_2():
    with pytest.raises(OVFError, match="SHA1"):
        manifest.parse_manifest(f"SHA1(a)= {D1}\n".encode(), "2.x")


def test_coverage_both_directions():
    entries = {"a": manifest.Entry("SHA1", D1), "b": manifest.Entry("SHA1", D1)}
    manifest.check_coverage(entries, {"a", "b"})
    with pytest.raises(OVFError, match="does not list c"):
        manifest.check_coverage(entries, {"a", "b", "c"})
    with pytest.raises(OVFError, match="not in the package: b"):
        manifest.check_coverage(entries, {"a"})


def _self_signed(tmp_path):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem"),
                    "-days", "1", "-subj", "/CN=ovf-test"], check=True,
                   capture_output=True)


def _sign(tmp_path, data: bytes) -> str:
    (tmp_path / "m").write_bytes(data)
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(tmp_path / "key.pem"),
                          str(tmp_path / "m")], check=True, capture_output=True).stdout
    return sig.hex()


def test_certificate_verdicts(tmp_path):
    _self_signed(tmp_path)
    mf = f"SHA256(vm.ovf)= {D256}\n".encode()
    pem = (tmp_path / "cert.pem").read_text()
    cert = f"SHA256(vm.mf)= {_sign(tmp_path, mf)}\n{pem}".encode()
    verdict = certificate.check_certificate(cert, mf, "vm.mf")
    assert verdict.status == "untrusted" and "not trusted" in verdict.reason
    assert certificate.check_certificate(None, mf, "vm.mf").status == "unsigned"
    with pytest.raises(OVFError, match="does not match the manifest"):
        certificate.check_certificate(cert, mf + b"\n", "vm.mf")
    with pytest.raises(OVFError, match="no manifest"):
        certificate.check_certificate(cert, None, "vm.mf")
    with pytest.raises(OVFError, match="lacks"):
        certificate.check_certificate(b"hello", mf, "vm.mf")
