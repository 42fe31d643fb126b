"""Cross-reference checks on a read Envelope, before anything is used.

Each check collects every problem so the refusal names them all at once
(the invalid.ovf sample has three). Checks are pure: no I/O.
"""

from ovf import model
from ovf.errors import OVFError
from ovf.hardware import host_resource
from ovf.model import Envelope, VirtualSystem

_COMPRESSIONS = (None, "gzip")


def check_envelope(env: Envelope) -> None:
    """Refuse an envelope whose references do not hold together.

    Raises:
        OVFError: naming every dangling or unsafe reference found.
    """
    problems = _check_references(env) + _check_profiles(env)
    for vs in env.virtualSystems():
        problems += _check_items(env, vs)
    if problems:
        raise OVFError("; ".join(problems))


def check_href(href: str) -> str | None:
    """Return why an href is unsafe, or None if it is a plain file name.

    APPSEC(ovf): hrefs must stay inside the package. We accept only a
    plain basename: no URL scheme (SSRF), no ``/`` or ``\\`` (absolute
    paths and ``..`` traversal), no NUL, no leading ``-`` or ``.``.
    """
    if not href or "\x00" in href:
        return f"href {href!r} is empty or has a NUL"
    if "/" in href or "\\" in href or ":" in href:
        return f"href {href!r} is not a plain file name in the package"
    if href.startswith((".", "-")) or len(href) > 255:
        return f"href {href!r} is not a plain file name in the package"
    return None


def _duplicates(values: list[str]) -> set[str]:
    seen, dups = set(), set()
    for v in values:
        (dups if v in seen else seen).add(v)
    return dups


def _check_references(env: Envelope) -> list[str]:
    problems = []
    for dup in sorted(_duplicates([f.id for f in env.references])):
        problems.append(f"File id {dup!r} is declared twice")
    for dup in sorted(_duplicates([f.href for f in env.references])):
        problems.append(f"File href {dup!r} is declared twice")
    for dup in sorted(_duplicates([d.diskId for d in env.disks])):
        problems.append(f"Disk id {dup!r} is declared twice")
    for f in env.references:
        why = check_href(f.href)
        if why:
            problems.append(f"File {f.id!r}: {why}")
        if f.compression not in _COMPRESSIONS:
            problems.append(f"File {f.id!r} has unsupported compression "
                            f"{f.compression!r}")
        if f.chunkSize == 0:
            problems.append(f"File {f.id!r} has chunkSize 0")
    for d in env.disks:
        if d.fileRef is not None and env.file(d.fileRef) is None:
            problems.append(f"Disk {d.diskId!r} names fileRef {d.fileRef!r}, "
                            f"which is not in References")
        if d.parentRef is not None and env.disk(d.parentRef) is None:
            problems.append(f"Disk {d.diskId!r} names parentRef "
                            f"{d.parentRef!r}, which is not in DiskSection")
    return problems


def _check_profiles(env: Envelope) -> list[str]:
    problems = []
    declared = {c.id for c in env.configurations}
    for dup in sorted(_duplicates([c.id for c in env.configurations])):
        problems.append(f"deployment option {dup!r} is declared twice")
    if sum(c.default for c in env.configurations) > 1:
        problems.append("more than one deployment option is the default")
    for vs in env.virtualSystems():
        for item in vs.items:
            unknown = set(item.configurations) - declared
            if unknown:
                problems.append(
                    f"{vs.id}: Item {item.instanceID} names unknown "
                    f"deployment option(s) {', '.join(sorted(unknown))}")
    return problems


def _check_items(env: Envelope, vs: VirtualSystem) -> list[str]:
    """Check HostResource, Parent and Connection of every Item of ``vs``."""
    problems = []
    by_id: dict[str, set[int]] = {}
    for item in vs.items:
        by_id.setdefault(item.instanceID, set()).add(item.resourceType)
    networks = {n.name for n in env.networks}
    for item in vs.items:
        where = f"{vs.id}: Item {item.instanceID}"
        for value in item.hostResource:
            ref = host_resource(value)
            if ref is None:
                problems.append(f"{where} has HostResource {value!r}, which "
                                f"is neither ovf:/disk/ nor ovf:/file/")
            elif ref[0] == "disk" and env.disk(ref[1]) is None:
                problems.append(f"{where} names Disk {ref[1]!r}, not in DiskSection")
            elif ref[0] == "file" and env.file(ref[1]) is None:
                problems.append(f"{where} names File {ref[1]!r}, not in References")
            elif ref[0] == "file" and item.resourceType in model.DISK_TYPES:
                env.warnings.append(f"{where}: drive backed by File {ref[1]!r} "
                                    f"directly (no DiskSection Disk); its size is "
                                    f"read from the file")
        if item.parent is not None:
            parent_types = by_id.get(item.parent)
            if parent_types is None:
                problems.append(f"{where} has Parent {item.parent!r}, "
                                f"which is no Item")
            elif not parent_types & set(model.CONTROLLER_TYPES):
                problems.append(f"{where} has Parent {item.parent!r}, "
                                f"which is not a controller")
        if item.resourceType == model.RT_ETHERNET:
            for name in item.connection:
                if name not in networks:
                    problems.append(f"{where} connects to network {name!r}, "
                                    f"not in NetworkSection")
    return problems
