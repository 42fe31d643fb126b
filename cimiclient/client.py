"""A small CIMI 1.x client: everything is found from the CloudEntryPoint.

The client knows CIMI (entry point, collections and their item keys,
operations advertised on each resource, Create wrappers, Actions, Jobs,
query parameters); it leaves HTTP to a transport (see transport.py), so the
``cimi`` command and the Libcloud driver share it.
"""
import json
import os
import time
import urllib.parse
from dataclasses import dataclass

from cimiclient.documents import NS, Documents
from cimiclient.errors import (
    Ambiguous,
    BadRequest,
    CimiError,
    JobFailed,
    JobTimeout,
    NotFound,
    NotOffered,
    from_response,
)
from cimiclient.transport import HttpTransport, Response

ACTION = NS + "action/"
JSON, XML = "application/json", "application/xml"
FINISHED = ("SUCCESS", "FAILED", "STOPPED")
EXTENSION = "urn:darn-simple-cloud:cimi:"           # the provider's extension operations (restore, purge)
CONSOLE = EXTENSION + "console"                     # the Machine operation serving its console log
#: Attributes every resource has (DSP0263 5.1), whatever its ResourceMetadata lists.
COMMON_ATTRIBUTES = frozenset({"resourceURI", "id", "name", "description", "created", "updated", "properties",
                               "operations"})

#: CEP collection key -> the key of the items in that collection's JSON form.
ITEMS = {
    "machines": "machines", "machineTemplates": "machineTemplates", "machineConfigs": "machineConfigurations",
    "machineImages": "machineImages", "credentials": "credentials", "volumes": "volumes",
    "volumeTemplates": "volumeTemplates", "volumeConfigs": "volumeConfigurations",
    "volumeImages": "volumeImages", "networks": "networks", "networkTemplates": "networkTemplates",
    "networkConfigs": "networkConfigurations", "networkPorts": "networkPorts", "addresses": "addresses",
    "systems": "systems", "systemTemplates": "systemTemplates", "jobs": "jobs",
    "resourceMetadata": "resourceMetadata", "quotas": "quotas", "quarantinedResources": "quarantinedResources",
}
#: CEP collection key -> the CIMI type of its entries (to find their ResourceMetadata).
TYPES = {"machines": "Machine", "machineTemplates": "MachineTemplate", "machineConfigs": "MachineConfiguration",
         "machineImages": "MachineImage", "credentials": "Credential", "volumes": "Volume",
         "volumeTemplates": "VolumeTemplate", "volumeConfigs": "VolumeConfiguration", "volumeImages": "VolumeImage",
         "networks": "Network", "networkTemplates": "NetworkTemplate", "networkConfigs": "NetworkConfiguration",
         "networkPorts": "NetworkPort", "addresses": "Address", "systems": "System",
         "systemTemplates": "SystemTemplate", "jobs": "Job", "resourceMetadata": "ResourceMetadata",
         "quotas": "Quota", "quarantinedResources": "QuarantinedResource"}


def short_id(href: str) -> str:
    """The last path segment of an id: what people type."""
    return href.rstrip("/").rsplit("/", 1)[-1] if href else ""


def items_of(collection: dict) -> list:
    """The entries of a collection document, whatever its items key."""
    for key, value in collection.items():
        if key not in ("operations",) and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            return value
    return []


def filter_literal(value: str) -> str:
    """A CIMI $filter string literal for any text."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


@dataclass
class Result:
    """What a create, action or delete answered: status, the resource (if sent), where, and the Job."""
    status: int
    doc: dict | None
    location: str | None
    job: str | None


class Client(Documents):
    """A CIMI consumer bound to one CloudEntryPoint URL and one transport."""

    def __init__(self, endpoint: str, transport=None, poll: float = 0.05, max_poll: float = 1.0):
        self.endpoint = endpoint
        self.transport = transport or HttpTransport()
        self.poll, self.max_poll = poll, max_poll
        self._cep = None
        self._metadata = None

    @classmethod
    def connect(cls, endpoint: str, user: str | None = None, password: str | None = None, timeout: float = 60):
        return cls(endpoint, HttpTransport(user, password, timeout))

    # --- HTTP -----------------------------------------------------------------------------------
    def request(self, method: str, href: str, body=None, params: dict | None = None, fmt: str = "json",
                headers: dict | None = None) -> Response:
        """One request; an error answer raises the matching CimiError with the server's message."""
        headers = {"Accept": XML if fmt == "xml" else JSON, **(headers or {})}
        data = None
        if body is not None:
            data = body if isinstance(body, bytes) or hasattr(body, "read") else json.dumps(body).encode()
            headers.setdefault("Content-Type", JSON)
        resp = self.transport.request(method, self.absolute(href), params=params, body=data, headers=headers)
        if resp.status >= 400:
            raise from_response(resp.status, resp.body)
        return resp

    def absolute(self, href: str) -> str:
        return urllib.parse.urljoin(self.base_uri if self._cep else self.endpoint, href)

    @staticmethod
    def decode(resp: Response):
        return json.loads(resp.body) if resp.body and resp.body.strip() else None

    def get(self, href: str, select=None, expand=None, fmt: str = "json"):
        """A resource as a dict, or its raw XML text when fmt is 'xml'."""
        params = {"$select": _csv(select), "$expand": _csv(expand)}
        resp = self.request("GET", href, params=params, fmt=fmt)
        return resp.body.decode() if fmt == "xml" else self.decode(resp)

    # --- the entry point ----------------------------------------------------------------------
    @property
    def cep(self) -> dict:
        if self._cep is None:
            self._cep = self.decode(self.request("GET", self.endpoint))
            if not isinstance(self._cep, dict) or not self._cep.get("resourceURI", "").endswith("CloudEntryPoint"):
                raise CimiError(f"{self.endpoint} is not a CIMI CloudEntryPoint")
        return self._cep

    @property
    def base_uri(self) -> str:
        return self._cep.get("baseURI") or self.endpoint

    def href(self, key: str) -> str:
        """The href of a CEP collection; NotFound if this provider (or user) has none."""
        ref = self.cep.get(key)
        if not isinstance(ref, dict) or "href" not in ref:
            raise NotFound(f"the cloud entry point offers no {key} collection")
        return self.absolute(ref["href"])

    # --- queries ---------------------------------------------------------------------------------
    def query_response(self, key_or_href: str, filter=None, select=None, first=None, last=None, orderby=None,
                       expand=None, fmt: str = "json") -> Response:
        """The answer to a collection query, with the CIMI query parameters passed through."""
        href = key_or_href if "/" in key_or_href else self.href(key_or_href)
        filters = [filter] if isinstance(filter, str) else list(filter or [])
        params = [("$filter", f) for f in filters]
        for name, value in (("$select", _csv(select)), ("$first", first), ("$last", last),
                            ("$orderby", _csv(orderby)), ("$expand", _csv(expand))):
            if value is not None:
                params.append((name, str(value)))
        if params:
            href = href + ("&" if "?" in href else "?") + urllib.parse.urlencode(params, safe="$")
        return self.request("GET", href, fmt=fmt)

    def query(self, key_or_href: str, fmt: str = "json", **query):
        """A collection document (dict, or XML text)."""
        resp = self.query_response(key_or_href, fmt=fmt, **query)
        return resp.body.decode() if fmt == "xml" else self.decode(resp)

    def list(self, key: str, **query) -> list:
        """The entries of a CEP collection."""
        doc = self.query(key, **query)
        return doc.get(ITEMS.get(key, key), []) if key in ITEMS else items_of(doc)

    def find(self, key: str, ident: str) -> dict:
        """A resource of a collection by full href, short id or (unique) name."""
        if not ident:
            raise NotFound(f"no {key} named ''")
        if ident.startswith(("http://", "https://")):
            return self.get(ident)
        if "/" not in ident:
            try:
                return self.get(self.href(key) + "/" + urllib.parse.quote(ident))
            except NotFound:
                pass
        found = self.list(key, filter=f"name={filter_literal(ident)}")
        if len(found) > 1:
            ids = ", ".join(short_id(f["id"]) for f in found[:5])
            raise Ambiguous(f"{len(found)} {key} are named {ident!r} ({ids}); give the id instead")
        if not found:
            raise NotFound(f"no {key} with id or name {ident!r}")
        return found[0]

    # --- what the provider describes ----------------------------------------------------------
    def attributes(self, key: str) -> set | None:
        """The attribute names of a collection's entries, from their ResourceMetadata (DSP0263 5.16).

        None when the provider does not describe that kind (nothing to check against).
        """
        if self._metadata is None:
            listed = self.list("resourceMetadata") if "resourceMetadata" in self.cep else []
            self._metadata = {m.get("typeUri") or m.get("typeURI"): m for m in listed}
        meta = self._metadata.get(NS + TYPES.get(key, key))
        return None if meta is None else COMMON_ATTRIBUTES | {a["name"] for a in meta.get("attributes", [])}

    def check_select(self, key: str, select) -> None:
        """Refuse a $select naming an attribute the kind does not have (the server would ignore it)."""
        known = self.attributes(key) if select else None
        if known is None:
            return
        names = [n.strip() for n in _csv(select).split(",") if n.strip()]
        unknown = [n for n in names if n.split("/", 1)[0] not in known]
        if unknown:
            raise BadRequest(f"{TYPES.get(key, key)} has no attribute {', '.join(map(repr, unknown))} "
                             f"(it has: {', '.join(sorted(known))})")

    def links_addresses(self) -> bool:
        """Whether the provider says which resource each Address belongs to (ADDRESSES contract)."""
        return "addresses" in self.cep and "resource" in (self.attributes("addresses") or ())

    # --- operations --------------------------------------------------------------------------------
    @staticmethod
    def advertised(resource: dict, rel: str) -> dict | None:
        """The operation the resource advertises now (a bare rel, an action or an extension name), or None."""
        wanted = {rel, ACTION + rel, EXTENSION + rel}
        return next((op for op in resource.get("operations", []) if op.get("rel") in wanted), None)

    @classmethod
    def operation(cls, resource: dict, rel: str) -> str | None:
        """The href of an operation the resource advertises now."""
        return (cls.advertised(resource, rel) or {}).get("href")

    def require(self, resource: dict, rel: str) -> str:
        href = self.operation(resource, rel)
        if href is None:
            what = resource.get("name") or short_id(resource.get("id", ""))
            state = f" in state {resource['state']}" if resource.get("state") else ""
            held = resource.get("attachedTo", {}).get("href")         # an attached Volume is not deleted
            state += f", attached to {short_id(held)}" if held else ""
            offered = ", ".join(short_id(o["rel"]) for o in resource.get("operations", [])) or "none"
            raise NotOffered(f"{rel} is not offered on {what}{state} (offered: {offered})")
        return self.absolute(href)

    def _result(self, resp: Response) -> Result:
        doc = self.decode(resp) if resp.headers.get("Content-Type", "").startswith(JSON) else None
        job = resp.headers.get("CIMI-Job-URI")
        if doc is not None and job and doc.get("id") == job:
            doc = None                     # the body is the Job itself (DSP0263 4.2.1.7), followed by its header
        return Result(resp.status, doc, resp.headers.get("Location"), job)

    def create(self, key_or_href: str, body: dict) -> Result:
        """POST a resource or Create wrapper to a collection (a CEP key or an href)."""
        href = key_or_href if "/" in key_or_href else self.href(key_or_href)
        return self._result(self.request("POST", href, body))

    def act(self, resource: dict, action: str, **params) -> Result:
        """Perform an advertised action (start, stop, ...) with its parameters."""
        href = self.require(resource, action)
        body = {"resourceURI": NS + "Action", "action": self.advertised(resource, action)["rel"], **params}
        return self._result(self.request("POST", href, body))

    def delete(self, resource: dict) -> Result:
        """DELETE through the resource's advertised delete operation."""
        return self._result(self.request("DELETE", self.require(resource, "delete")))

    # --- jobs -----------------------------------------------------------------------------------------
    def wait(self, job_href: str, timeout: float = 300, on_progress=None) -> dict:
        """Poll a Job until it finishes; return it. JobFailed / JobTimeout otherwise.

        ``on_progress(job)`` is called after every poll (for a progress display).
        """
        deadline = time.monotonic() + timeout
        delay = self.poll
        while True:
            job = self.get(job_href)
            if on_progress:
                on_progress(job)
            if job.get("state") in FINISHED:
                if job["state"] != "SUCCESS":
                    raise JobFailed(job)
                return job
            if time.monotonic() >= deadline:
                raise JobTimeout(job, timeout)
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, self.max_poll)

    def finish(self, result: Result, timeout: float = 300, on_progress=None) -> dict | None:
        """Wait for a Result's Job (if any); return the resource as it is now (None if gone)."""
        if result.job:
            self.wait(result.job, timeout, on_progress)
        target = result.location or (result.doc or {}).get("id")
        if not target:
            return None
        try:
            return self.get(target)
        except NotFound:
            return None

    # --- what a resource offers beyond CRUD -------------------------------------------------------
    def addresses(self, machine: dict | None = None) -> list:
        """The Addresses leased to one Machine, or all those linked to some resource (ADDRESSES contract).

        Providers that do not link Addresses to resources (no ``resource``
        attribute in Address's ResourceMetadata) have none to show: [].
        """
        if not self.links_addresses():
            return []
        if machine is None:
            return [a for a in self.list("addresses") if (a.get("resource") or {}).get("href")]
        return self.list("addresses", filter=f"resource/href={filter_literal(machine['id'])}")

    def attachments(self) -> dict:
        """Each attached Volume's href -> (its Machine, the MachineVolume), in one expanded query."""
        found = {}
        for machine in self.list("machines", select="id,name,volumes", expand="volumes"):
            for mv in items_of(machine.get("volumes") or {}):
                found[mv.get("volume", {}).get("href")] = (machine, mv)
        return found

    def quota(self, user: str | None = None) -> dict | None:
        """The Quota of a user (None: the default) as this client may read it, or None (QUOTA contract)."""
        found = [q for q in self.list("quotas") if q.get("user") == user]
        return found[0] if found else None

    def set_quota(self, user: str | None, limits: dict) -> dict:
        """Create a user's (or the default) Quota, or change only the given attributes of the existing one."""
        quota = self.quota(user)
        if quota is None:
            body = {"resourceURI": NS + "Quota", **limits, **({"user": user} if user else {})}
            return self.get(self.create("quotas", body).location)
        return self.decode(self.request("PUT", self.require(quota, "edit"), limits,
                                        params={"$select": ",".join(sorted(limits))}))

    def console(self, machine: dict, tail: int | None = None) -> str:
        """The last ``tail`` lines of a Machine's serial console log (CONSOLE contract)."""
        href = self.operation(machine, CONSOLE)
        if href is None:
            raise NotOffered(f"machine {machine.get('name') or short_id(machine['id'])} offers no console log")
        params = {"tail": str(tail)} if tail is not None else None
        resp = self.request("GET", href, params=params, headers={"Accept": "text/plain, " + JSON})  # errors in JSON
        return resp.body.decode("utf-8", "replace")

    def usage(self, user: str | None = None, start: str | None = None, end: str | None = None) -> list:
        """What each user's resources used over a period (ISO 8601 bounds), from their EventLogs' usage views.

        A user sees their own; an admin every user's, or the one named.
        """
        found = "scope='user'" + (" and name=" + filter_literal("user:" + user) if user else "")
        params = {k: v for k, v in (("from", start), ("to", end)) if v}
        return [json.loads(self.request("GET", log["id"] + "/usage", params=params or None).body)
                for log in self.list("eventLogs", filter=found, orderby="name")]

    def snapshot(self, volume: dict, name=None, description=None) -> Result:
        """Snapshot a Volume into a new VolumeImage (DSP0263 5.15.8.1)."""
        body = {"resourceURI": NS + "VolumeImage", "imageLocation": volume["id"]}
        if name:
            body["name"] = name
        if description:
            body["description"] = description
        return self.create("volumeImages", body)

    def upload_image(self, path, name: str, description=None, on_sent=None, public=False) -> Result:
        """Send a disk image's bytes to the MachineImage collection (the provider's ImageUpload).

        public: shared read-only with everyone at once.
        """
        params = {k: v for k, v in (("name", name), ("description", description)) if v}
        if public:
            params["public"] = "true"
        return self._post_file(self.href("machineImages"), path, "application/octet-stream", params, on_sent)

    def share(self, resource: dict, principal: str, shared: bool = True) -> dict:
        """Give (or with shared=False take back) a principal read-only access to a resource; return it.

        principal: user:NAME, group:NAME or everyone (the server's acl extension, Nuvla's rules).
        """
        rules = [r for r in (resource.get("acl") or {}).get("rules", []) if r.get("principal") != principal]
        if shared:
            rules.append({"principal": principal, "right": "VIEW"})
        return self.decode(self.request("PUT", resource["id"], {"acl": {"rules": rules}}, params={"$select": "acl"}))

    def _post_file(self, href, path, content_type, params, on_sent=None) -> Result:
        """POST a local file's bytes, streamed; ``on_sent(sent, total)`` as they go out."""
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            headers = {"Content-Type": content_type, "Content-Length": str(size)}
            return self._result(self.request("POST", href, _Reading(file, size, on_sent), params=params,
                                             headers=headers))

    def attach(self, machine: dict, volume: dict, location: str | None = None) -> Result:
        """Attach a Volume: add a MachineVolume to the Machine's volumes collection."""
        body = {"resourceURI": NS + "MachineVolume", "volume": {"href": volume["id"]}}
        if location:
            body["initialLocation"] = location
        return self.create(self.absolute(machine["volumes"]["href"]), body)

    def attachment(self, machine: dict, volume: dict) -> dict:
        """The MachineVolume joining these two; NotFound if the volume is not attached there."""
        for mv in items_of(self.query(self.absolute(machine["volumes"]["href"]))):
            if mv.get("volume", {}).get("href") == volume["id"]:
                return mv
        raise NotFound(f"volume {volume.get('name') or short_id(volume['id'])} is not attached to "
                       f"machine {machine.get('name') or short_id(machine['id'])}")

    def detach(self, machine: dict, volume: dict) -> Result:
        return self.delete(self.attachment(machine, volume))

    def capture(self, machine: dict, name=None, description=None) -> Result:
        """Capture a Machine into a new MachineImage (POSTed where the capture operation points)."""
        href = self.require(machine, "capture")
        body = {"resourceURI": NS + "MachineImage", "type": "IMAGE", "imageLocation": machine["id"]}
        if name:
            body["name"] = name
        if description:
            body["description"] = description
        return self._result(self.request("POST", href, body))

    def register_image(self, name, location, description=None) -> Result:
        body = {"resourceURI": NS + "MachineImage", "type": "IMAGE", "imageLocation": location, "name": name}
        if description:
            body["description"] = description
        return self.create("machineImages", body)

    def upload_package(self, path, name=None, profile=None, on_sent=None) -> Result:
        """Send a local OVA's bytes to the SystemTemplate collection, which imports it (streamed)."""
        href = self.query("systemTemplates", first=1, last=1)["id"]
        params = {k: v for k, v in (("name", name), ("profile", profile)) if v}
        return self._post_file(href, path, "application/x-tar", params, on_sent)

    def import_package(self, source: str, into: str = "systemTemplates", properties: dict | None = None) -> Result:
        """POST an import Action (source URI) to a collection's advertised import operation."""
        collection = self.query(into, first=1, last=1)
        href = self.require(collection, "import")
        body = {"resourceURI": NS + "Action", "action": ACTION + "import", "source": source}
        if properties:
            body["properties"] = dict(properties)
        return self._result(self.request("POST", href, body))


class _Reading:
    """A file whose reads report how far they got (for an upload's progress bar)."""

    def __init__(self, file, total, on_sent=None):
        self.file, self.total, self.sent, self.on_sent = file, total, 0, on_sent

    def read(self, size=-1):
        chunk = self.file.read(size)
        self.sent += len(chunk)
        if self.on_sent:
            self.on_sent(self.sent, self.total)
        return chunk


def _csv(value):
    if value is None or isinstance(value, str):
        return value
    return ",".join(value)
