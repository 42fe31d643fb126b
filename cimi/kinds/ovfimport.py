"""OVF import requests (DSP0263 4.3, Annex A): the `import` operation of SystemTemplates and package uploads.

What is checked from the descriptor (profile, networkMap) is checked here,
before the Job is queued; the import itself is cimi/ops/ovf_import.py.
"""
import json
from pathlib import Path

from cimi import errors, imagefiles, jobs, registry, represent, store
from cimi.ops import ovf_import
from cimi.ops.ovf_import import BUS_POLICIES, source_path
from ovf.errors import OVFError
from ovf.package import read_descriptor


PACKAGE_TYPES = ("application/x-tar", "application/ova", "application/octet-stream")


def start_import(ctx, kind, body):
    """The `import` operation of the SystemTemplate collection: 202, a Job, the template's Location."""
    if not body.get("source"):
        raise errors.BadRequest("import needs a source (the package's URI)")
    path = source_path(ctx, body["source"])
    return _submit(ctx, kind, path, path.stem, body["source"].strip(), path.name, body.get("properties") or {},
                   body.get("networkMap") or {})


def receive_package(ctx, kind, upload):
    """A package POSTed as bytes to the SystemTemplate collection (a provider extension): import it.

    Query parameters: name (of the template), profile, sha256 (checked while
    streaming), networkMap (a JSON object, OVF network name -> Network href).
    The staged copy is removed once the import ends, or at once when refused.
    """
    if not represent.can_add(ctx.user, kind):
        raise errors.Forbidden(f"you may not add {kind.name} resources")
    sha256 = imagefiles.checked_sha256(upload.params.get("sha256"))
    try:
        network_map = json.loads(upload.params.get("networkMap") or "{}")
    except ValueError:
        raise errors.BadRequest("networkMap must be a JSON object: OVF network name -> Network href") from None
    staged, _, _ = imagefiles.receive(ctx.cloud.config, upload, "packages", sha256)
    name = (upload.params.get("name") or "uploaded package").strip()
    try:
        return _submit(ctx, kind, Path(staged), name, "upload", name,
                       {"profile": upload.params.get("profile"), "busPolicy": upload.params.get("busPolicy")},
                       network_map, remove=True)
    except errors.CimiError:
        imagefiles.remove(staged)
        raise


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


def _submit(ctx, kind, path, name, source, label, params, network_map, remove=False):
    """Check what can be checked from the descriptor (profile, networkMap), then queue the import."""
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
    template = store.insert("SystemTemplate", {"owner": ctx.owner, "name": name,
                                               "description": f"imported from {label}",
                                               "data": {"importImage": source}})
    doc = represent.document(ctx, kind, template)
    job = jobs.submit(ctx, jobs.JobSpec(
        registry.job_name(ovf_import.run), represent.collection_href(ctx, kind), "import",
        {"id": template["id"], "path": str(path), "profile": profile, "remove": remove, "label": label,
         "networks": networks, "busPolicy": policy}, [doc["id"]], ("SystemTemplate", template["id"])))
    return 202, doc, job
