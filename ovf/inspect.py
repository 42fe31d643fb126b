"""Describe a package without importing it: the facts as one dict.

:func:`inspect` is the one entry point the CLI and the server's client
share. It reads a descriptor (referenced files may be absent; a manifest
beside it is checked) or an OVA, applies a deployment option, and
flattens nested VirtualSystemCollections into leaf VirtualSystems.
Password property values are never echoed.
"""

from ovf.errors import OVFError
from ovf.hardware import resolve_hardware
from ovf.model import VirtualSystem
from ovf.package import Package, open_package


def inspect(path, profile: str | None = None) -> dict:
    """Read and check a package and return its facts.

    Args:
        path: An ``.ovf`` descriptor or an OVA.
        profile: Deployment option to apply; None for the default
            (``ovf:default="true"``, else the first, DSP0243 clause 9.8).

    Returns:
        ``{"ovfVersion", "virtualSystems": [...], "profiles", "networks"}``.

    Raises:
        OVFError: if the package is refused or ``profile`` is unknown.
    """
    package = open_package(path, dest=None, require_files=False)
    env = package.envelope
    profiles = [c.id for c in env.configurations]
    if profile is not None and profile not in profiles:
        known = ", ".join(profiles) or "none"
        raise OVFError(f"unknown deployment option {profile!r} (declared: {known})")
    chosen = profile if profile is not None else env.defaultProfile
    return {
        "ovfVersion": env.ovfVersion,
        "virtualSystems": [_system(package, vs, chosen) for vs in env.virtualSystems()],
        "profiles": profiles,
        "networks": [n.name for n in env.networks],
        "warnings": list(env.warnings),
    }


def _system(package: Package, vs: VirtualSystem, profile: str | None) -> dict:
    hw = resolve_hardware(package.envelope, vs, profile)
    return {
        "id": vs.id,
        "name": vs.name,
        "cpus": hw.cpus,
        "memoryMiB": hw.memoryMiB,
        "disks": [_disk(package, d) for d in hw.disks],
        "nics": [{"network": n.network} for n in hw.nics],
        "properties": [{"key": p.key, "type": p.type,
                        "default": None if p.password else p.default,
                        "password": p.password} for p in vs.properties],
        "profile": profile,
    }


def _disk(package: Package, drive) -> dict:
    """A drive's facts; a File without a Disk is described by its bytes when present."""
    found = package.formats.get(drive.fileRef) if drive.diskId is None else None
    return {"diskId": drive.diskId,
            "capacityBytes": drive.capacityBytes if found is None else found.virtualSize,
            "format": drive.format if found is None else found.format,
            "fileRef": drive.fileRef}


def _known(value, unit: str = "") -> str:
    """Render a fact, or "unknown" when the package does not say."""
    return "unknown" if value is None else f"{value}{unit}"


def summary(facts: dict) -> str:
    """Render :func:`inspect`'s result for a person."""
    lines = [f"OVF {facts['ovfVersion']}"]
    if facts["profiles"]:
        lines.append(f"deployment options: {', '.join(facts['profiles'])}")
    if facts["networks"]:
        lines.append(f"networks: {', '.join(facts['networks'])}")
    for vs in facts["virtualSystems"]:
        title = vs["id"] + (f" ({vs['name']})" if vs["name"] else "")
        lines.append(f"virtual system {title}"
                     + (f", profile {vs['profile']}" if vs["profile"] else ""))
        lines.append(f"  {_known(vs['cpus'])} vCPU, {_known(vs['memoryMiB'], ' MiB')} memory")
        for d in vs["disks"]:
            fmt = d["format"] or ("unknown format" if d["fileRef"] else "blank")
            lines.append(f"  disk {d['diskId'] or '(logical)'}: "
                         f"{_known(d['capacityBytes'], ' bytes')}, {fmt}"
                         + (f", file {d['fileRef']}" if d["fileRef"] else ""))
        for n in vs["nics"]:
            lines.append(f"  nic on {n['network'] or '(unconnected)'}")
        for p in vs["properties"]:
            value = ("(password)" if p["password"] else
                     "unknown" if p["default"] is None else repr(p["default"]))
            lines.append(f"  property {p['key']} ({p['type']}) = {value}")
    lines += [f"warning: {w}" for w in facts.get("warnings", ())]
    return "\n".join(lines)
