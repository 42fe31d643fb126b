"""OVF import requests (DSP0263 4.3, Annex A): checked before the Job is queued.

The `import` operation of SystemTemplates (a package named by URI) and
package uploads (its bytes POSTed to the collection): what can be checked from
the descriptor alone (profile, networkMap, busPolicy) is refused at once;
the import itself is cimi/ops/ovf_import.py.
"""
import json
from pathlib import Path

from cimi import errors, imagefiles, represent
from cimi.ops.ovf_import import BUS_POLICIES, run, source_path
from cimi.ops.resources import Created
from ovf.errors import OVFError
from ovf.package import read_descriptor


PACKAGE_TYPES = ("application/x-tar", "application/ova", "application/octet-stream")


def start_import(ctx, params):
    """The `import` operation of the SystemTemplate collection: a template, and the Job importing into it."""
    if not params.get("source"):
        raise errors.BadRequest("import needs a source (the package's URI)")
    path = source_path(ctx, params["source"])
    return _prepare(ctx, path, path.stem, params["source"].strip(), path.name, params.get("properties") or {},
                    params.get("networkMap") or {})


def receive_package(ctx, upload):
    """A package POSTed as bytes to the SystemTemplate collection (a provider extension): import it.

    Query parameters: name (of the template), profile, sha256 (checked while
    streaming), networkMap (a JSON object, OVF network name -> Network href).
    The staged copy is removed once the import ends, or at once when refused.
    """
    sha256 = imagefiles.checked_sha256(upload.params.get("sha256"))
    try:
        network_map = json.loads(upload.params.get("networkMap") or "{}")
    except ValueError:
        raise errors.BadRequest("networkMap must be a JSON object: OVF network name -> Network href") from None
    staged, _, _ = imagefiles.receive(ctx.cloud.config, upload, "packages", sha256)
    name = (upload.params.get("name") or "uploaded package").strip()
    try:
        created = _prepare(ctx, Path(staged), name, "upload", name,
                           {"profile": upload.params.get("profile"), "busPolicy": upload.params.get("busPolicy")},
                           network_map, remove=True)
    except errors.CimiError:
        imagefiles.remove(staged)
        raise
    created.discard = lambda: imagefiles.remove(staged)
    return created


def _network_map(ctx, env, given):
    """Check `networkMap` (OVF network name -> Network href); return name -> Network id."""
    if not isinstance(given, dict):
        raise errors.BadRequest("networkMap must be an object: OVF network name -> Network href")
    declared = [n.name for n in env.networks]
    out = {}
    for name, ref in given.items():
        if name not in declared:
            raise errors.BadRequest(f"networkMap names {name!r}, not a network of the package "
                                    f"(its NetworkSection declares: {', '.join(declared) or 'none'})")
        href = ref.get("href") if isinstance(ref, dict) else ref
        out[name] = represent.resolve(ctx, str(href or ""), "Network")[1]["id"]
    return out


def _prepare(ctx, path, name, source, label, params, network_map, remove=False):
    """Check what can be checked from the descriptor (profile, networkMap); describe the template and its Job."""
    try:
        env = read_descriptor(path)
    except OVFError as exc:
        raise errors.BadRequest(f"package refused: {exc}") from None
    profile = params.get("profile") or None
    offered = [c.id for c in env.configurations]
    if profile is not None and profile not in offered:
        raise errors.BadRequest(f"unknown deployment option (profile) {profile!r}; the package offers: "
                                f"{', '.join(offered) or 'none'}"
                                + (f" (default {env.defaultProfile})" if offered else ""))
    networks = _network_map(ctx, env, network_map)
    policy = params.get("busPolicy") or "package"
    if policy not in BUS_POLICIES:
        raise errors.BadRequest(f"busPolicy {policy!r} is not one of {', '.join(BUS_POLICIES)}")
    return Created({"name": name, "description": f"imported from {label}", "data": {"importImage": source}},
                   job=run, action="import",
                   payload={"path": str(path), "profile": profile, "remove": remove, "label": label,
                            "networks": networks, "busPolicy": policy})
