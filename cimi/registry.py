"""Resource kinds: what each CIMI type is, declared once and looked up by name.

A kind module in cimi/kinds/ builds a `Kind` and calls `register`. The
generic machinery (cimi/crud.py, cimi/http/app.py) reads these declarations; kinds
hold no HTTP code and no work: their hooks and actions name functions of cimi/ops/.
A Job row names the operation it runs by `job_name`, which any front end on the
same database resolves with `operation`.
"""
from dataclasses import dataclass, field
from typing import Callable

import schemas
from cimi.store import events as store_events
from cimi.store import links as store_links
from cimi.vocabulary import items_key, type_uri


@dataclass(frozen=True)
class Action:
    """An operation a resource offers in some states (DSP0263 4.2).

    from_states: states in which it is advertised and accepted (409 otherwise).
    transient: the state shown while its Job runs.
    handler: the operation a Job worker runs, `handler(job)` (cimi/ops/).
    href: "self" for an action href under the resource, or a collection key
    for operations performed by POSTing elsewhere (capture -> machineImages).
    """
    name: str
    from_states: frozenset
    transient: str | None = None
    handler: Callable | None = None
    href: str = "self"
    immediate: Callable | None = None          # immediate(ctx, row, params): done at once, no Job
    check: Callable | None = None              # check(ctx, row, params): refuse (4xx) before a Job is queued

    condition: Callable | None = None          # condition(row): a further test than the state (ERROR cases)
    rel: str | None = None                     # an extension operation's URI; None: the standard action URI

    def allows(self, row):
        """Tell whether the row's state (and the condition) let this action run."""
        return row["state"] in self.from_states and (self.condition is None or self.condition(row))


@dataclass(frozen=True)
class View:
    """A read-only extension operation: `GET <resource href>/<name>` answers text, not a CIMI document.

    Listed in the resource's operations (rel: an extension URI) to those who
    may change the resource. read: `read(ctx, row, params) -> str`, params the
    query parameters as a dict.
    """
    name: str
    rel: str
    read: Callable
    media_type: str = "text/plain; charset=utf-8"


@dataclass
class Kind:
    """One CIMI resource type served as a collection."""
    name: str                                  # CIMI type name, e.g. "Machine"
    collection: str                            # URL segment (the CEP key), e.g. "machines"
    create_schema: str | None = None           # POST body type; None: consumers cannot add
    parent: str | None = None                  # owning kind of a sub-collection (Machine for Disk)
    editable: bool = True                      # PUT allowed (for writers)
    provider_only: bool = False                # only admins add/edit/delete (configurations)
    own_edits: tuple = ()                      # what a provider_only row's owner may still edit (their password)
    actions: dict = field(default_factory=dict)
    deletable_states: frozenset | None = None  # None: any state
    deletable: Callable | None = None          # deletable(row): a further test than the state (a held Volume)
    create: Callable | None = None             # create(ctx, body, parent) -> ops.resources.Created (body: name included)
    delete: Callable | None = None             # delete(ctx, row) -> the operation deleting it, or None: at once
    edited: Callable | None = None             # edited(ctx, row, attributes) -> what an edit keeps (a password hashed)
    capabilities: tuple = ()                   # ResourceMetadata capabilities (name, value, description)
    collection_actions: dict = field(default_factory=dict)   # name -> fn(ctx, params) -> Created (import)
    refresh: Callable | None = None            # refresh(ctx, row): re-read the real state after a failure
    uploads: dict = field(default_factory=dict)  # media type -> fn(ctx, imagefiles.Upload) -> Created: raw bodies
    views: dict = field(default_factory=dict)    # name -> View: text served under an item (a console)
    shown: Callable | None = None              # shown(ctx, row) -> attributes computed at each read (never cached)
    # The operations its create and delete hooks (and uploads) queue, besides its actions'
    # handlers: name -> fn(job). Job rows written before 2026-11 name them `<Kind>.<name>`.
    jobs: dict = field(default_factory=dict)
    links: tuple = ()                            # store Links beyond the schema's hrefs (internal keys), or overriding them
    # What its state Events carry for meters (name in the Event -> key in data): usage is derived from them.
    metered: dict = field(default_factory=dict)

    @property
    def items_key(self):
        return items_key(self.name)

    @property
    def schema(self):
        return schemas.load(self.name)


_kinds: dict[str, Kind] = {}
_by_collection: dict[tuple, Kind] = {}
_operations: dict[str, Callable] = {}         # job_name(fn) -> fn, from the kinds' declarations
_legacy: dict[str, Callable] = {}             # "Machine.create" (rows of older servers) -> fn


def job_name(fn):
    """The name a Job row stores for an operation: its module and qualified name.

    Any front end on the same database resolves it with `operation`; an
    operation no kind declares is a programming error.
    """
    name = f"{fn.__module__}:{fn.__qualname__}"
    if _operations.get(name) is not fn:
        raise RuntimeError(f"{name} is not an operation any kind declares")
    return name


def operation(name):
    """Return the operation a Job row names (also by its pre-2026-11 name), or None."""
    return _operations.get(name) or _legacy.get(name)


def _declare(legacy_name, fn):
    name = f"{fn.__module__}:{fn.__qualname__}"
    if "<locals>" in name or _operations.setdefault(name, fn) is not fn:
        raise RuntimeError(f"operation {name} cannot be named by a Job row (a closure, or two functions)")
    _legacy[legacy_name] = fn


def register(kind):
    """Add a kind; a second kind with the same name or URL is a programming error."""
    key = (kind.parent, kind.collection)
    if kind.name in _kinds or key in _by_collection:
        raise RuntimeError(f"kind {kind.name} ({kind.collection}) registered twice")
    schemas.load(kind.name)                    # fail at import when the schema is missing
    for action in kind.actions.values():
        if action.handler is not None:
            _declare(f"{kind.name}.{action.name}", action.handler)
    for name, fn in kind.jobs.items():
        _declare(f"{kind.name}.{name}", fn)
    store_links.declare(kind.name, [*reference_links(kind), *kind.links])
    if "state" in kind.schema["properties"]:          # its state changes are Events (cimi/store/events.py)
        store_events.declare(kind.name, type_uri(kind.name), _relative_href(kind), kind.metered)
    _kinds[kind.name] = kind
    _by_collection[key] = kind
    return kind


def _relative_href(kind):
    """href(row) of a kind's rows relative to baseURI (DSP0263 5.5.10), for the Events the store writes."""
    if kind.parent is None:
        return lambda row: f"{kind.collection}/{row['id']}"
    parent = _kinds[kind.parent].collection
    return lambda row: f"{parent}/{row['parent']}/{kind.collection}/{row['id']}"


def reference_links(kind):
    """The store links of a kind's href attributes: what a client wrote blocks a delete, what the server wrote informs."""
    return [store_links.Link("/".join(path), target, store_links.KEEP if read_only else store_links.BLOCK)
            for path, target, read_only in schemas.reference_paths(kind.schema)]


def get(name):
    return _kinds[name]


def by_collection(collection, parent=None):
    """Return the kind served at a URL segment (under a parent kind), or None."""
    return _by_collection.get((parent, collection))


def all_kinds():
    return list(_kinds.values())


def top_level():
    return [k for k in _kinds.values() if k.parent is None]


def children(parent_name):
    return [k for k in _kinds.values() if k.parent == parent_name]

