"""Content negotiation, request bodies in, documents out: JSON or XML.

Responders work with JSON-form dicts only; this module is where those become
bytes (and back), in the format the client negotiated (DSP0263 4.1.4, 4.1.6.5).
"""
import json
import re

from cimi import errors
from cimi.http import xml
from cimi.vocabulary import SPEC_VERSIONS, items_key

JSON, XML = "application/json", "application/xml"
_TYPES = {JSON: "json", XML: "xml", "text/xml": "xml"}


def negotiate(req):
    """Return "json" or "xml" from $format (first, any case) or Accept; 406 if neither fits."""
    fmt = req.params.get("$format")
    if isinstance(fmt, list):
        fmt = fmt[0]                                  # only the first occurrence counts (4.1.6.5)
    if fmt is not None and fmt.strip().lower() in ("json", "xml"):
        return fmt.strip().lower()
    accept = req.accept
    if accept in _TYPES:
        return _TYPES[accept]
    if not accept or accept.strip() in ("", "*/*"):
        return "json"
    try:
        best = req.client_prefers([JSON, XML, "text/xml"])
    except ValueError:
        best = None
    if best is None:
        raise errors.NotAcceptable(f"cannot answer in {req.accept}; use application/json or application/xml")
    return _TYPES[best]


def spec_version(header):
    """Pick the CIMI version from a CIMI-Specification-Version preference list (400 if none fits).

    The first entry naming a major.minor we speak wins, whatever its update
    number: updates are errata that change no behaviour (DSP4014 6.3), so a
    2012 client asking for 1.0.0 is served 1.0.1, and told so in the answer.
    """
    if not header:
        return SPEC_VERSIONS[0]
    for entry in header.split(","):
        wanted = entry.strip().split(".")
        if not (2 <= len(wanted) <= 3 and all(p.isdigit() for p in wanted)):
            continue                                   # malformed entries are skipped
        for version in SPEC_VERSIONS:
            if [int(p) for p in version.split(".")[:2]] == [int(p) for p in wanted[:2]]:
                return version
    raise errors.BadRequest(f"unsupported CIMI-Specification-Version {header}; this provider speaks "
                            + ", ".join(SPEC_VERSIONS))


def media_type(fmt):
    return JSON if fmt == "json" else XML


def render(fmt, type_name, doc, collection_of=None):
    """Return (bytes, content type) of a document (a resource, or a collection of a type)."""
    if fmt == "json":
        return json.dumps(doc, separators=(",", ":")).encode(), JSON
    if collection_of:
        el = xml.collection_element(doc, items_key(collection_of), collection_of)
    else:
        el = xml.element(type_name, doc)
    return xml.tostring(el), XML


def read_body(req, type_name, roots, limit):
    """Return the request body as a JSON-form dict ({} when empty).

    roots: XML root names accepted, compared without case or namespace, as
    plugfest clients send `<machineImageCreate>` without xmlns.
    """
    length = req.content_length
    if length is not None and length > limit:
        raise errors.PayloadTooLarge(f"request bodies are limited to {limit} bytes")
    raw = req.bounded_stream.read(limit + 1)
    if len(raw) > limit:
        raise errors.PayloadTooLarge(f"request bodies are limited to {limit} bytes")
    if not raw.strip():
        return {}
    media = (req.content_type or "").split(";")[0].strip().lower()
    kind = _TYPES.get(media)
    if kind is None:
        raise errors.UnsupportedMediaType(f"cannot read {media or 'a body without Content-Type'}; "
                                          "send application/json or application/xml")
    if kind == "json":
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise errors.BadRequest(f"malformed JSON: {exc}") from None
        if not isinstance(body, dict):
            raise errors.BadRequest("the JSON body must be an object")
        check_values(body)
        return body
    try:
        root = xml.parse(raw)
    except xml.XMLError as exc:
        raise errors.BadRequest(str(exc)) from None
    if xml.local_name(root.tag).lower() not in {r.lower() for r in roots}:
        raise errors.BadRequest(f"expected an XML {' or '.join(roots)} element, got {xml.local_name(root.tag)}")
    body = xml.read(root, type_name)
    check_values(body)
    return body


MAX_DEPTH = 32
# XML 1.0 admits none of these; a stored one would break every XML answer holding it.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def printable(text):
    """Replace what XML cannot carry (an error may echo a client's bytes)."""
    return _CONTROL.sub("\ufffd", text.encode("utf-8", "replace").decode("utf-8"))


def check_values(body):
    """Refuse bodies nested deeper than MAX_DEPTH or holding strings we could not store or render."""
    pending = [(body, 1)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise errors.BadRequest(f"the body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending += [(k, depth) for k in value] + [(v, depth + 1) for v in value.values()]
        elif isinstance(value, list):
            pending += [(v, depth + 1) for v in value]
        elif isinstance(value, str):
            if _CONTROL.search(value):
                raise errors.BadRequest("strings must not hold control characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise errors.BadRequest("strings must be valid Unicode (a lone surrogate was sent)") from None
