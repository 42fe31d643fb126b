"""The falcon application: routes, middleware and the CIMI error serializer.

Four generic routes serve every kind (collection, item, and their
sub-collections); the kind is looked up from the URL in the registry.
"""
import collections
import logging
import os
import threading

import falcon

import backends
from cimi import auth, crud, errors, imagefiles, registry, represent, store
from cimi.http import downloads, media
from cimi.context import Context
from cimi import queries
from cimi.vocabulary import type_uri

log = logging.getLogger(__name__)
CIMI_ROOT = "/cimi"
UI_ROOT = "/ui"
UI_FILES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "ui", "static")
# The web console is a CIMI client in the page; nothing inline, nothing from elsewhere, no framing.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
CEP_PATHS = (CIMI_ROOT, CIMI_ROOT + "/cloudEntryPoint")
PUBLIC_CEP = ("resourceURI", "id", "name", "description", "baseURI", "created", "updated")


class Middleware:
    """Negotiation, version header, authentication and the database connection."""

    def __init__(self, cloud):
        self.cloud = cloud

    def process_request(self, req, resp):
        req.context.fmt = "json"
        if req.path == UI_ROOT or req.path.startswith(UI_ROOT + "/"):
            return                          # the console's static files: public, no database
        try:
            req.context.fmt = media.negotiate(req)
        except errors.NotAcceptable as exc:
            req.context.unacceptable = exc        # raised once routed, unless a view answers text
        req.context.version = media.spec_version(req.get_header("CIMI-Specification-Version"))
        store.connect(self.cloud.database)
        header = req.get_header("Authorization")
        if header is None and self._public(req):
            user = auth.VISITOR
        else:
            user = self.cloud.authenticator.user(header, req.remote_addr)
        store.set_actor(user.name)              # the initiator of the Events this request causes
        req.context.ctx = Context(user=user, base=f"{req.prefix}{CIMI_ROOT}/", cloud=self.cloud)

    def process_resource(self, req, resp, resource, params):
        unacceptable = getattr(req.context, "unacceptable", None)
        if unacceptable is not None and view_of(req.method, params) is None:
            raise unacceptable

    def _public(self, req):
        """Whether this request may go without credentials: a read of the CloudEntryPoint.

        Plugfest clients read the entry point anonymously to discover the
        collections before they authenticate (configurable, on by default).
        """
        return (self.cloud.config.public_entry_point and req.method in ("GET", "HEAD")
                and req.path.rstrip("/") in CEP_PATHS)

    def process_response(self, req, resp, resource, req_succeeded):
        resp.set_header("CIMI-Specification-Version", getattr(req.context, "version", None)
                        or media.spec_version(None))
        resp.set_headers(SECURITY_HEADERS)
        if req.get_header("X-Requested-With") == "XMLHttpRequest":
            # A script handles 401 itself; a Basic challenge would make the browser open its own dialog.
            resp.delete_header("WWW-Authenticate")


def view_of(method, params):
    """Return the View a GET of `<collection>/<item>/<member>` reads, or None."""
    kind = registry.by_collection(params.get("collection", "")) if method == "GET" else None
    return kind.views.get(params.get("member")) if kind else None


def serialize_error(req, resp, exc):
    """Render every error as a CIMI Job-shaped document (DSP0263 4.2.2) in the negotiated format."""
    code = int(str(exc.status).split()[0]) if not isinstance(exc.status, int) else exc.status
    message = media.printable(exc.description or exc.title or str(exc.status))
    doc = {"resourceURI": type_uri("Job"), "state": "FAILED", "returnCode": code, "progress": 100,
           "statusMessage": message, "code": code, "message": message}
    fmt = getattr(req.context, "fmt", "json")
    data, content_type = media.render(fmt, "Job", doc)
    resp.data, resp.content_type = data, content_type


def _domain_error(req, resp, exc, params):
    """A CimiError or a backend error: its status from the one table (cimi/errors.py), rendered as above."""
    if not isinstance(exc, errors.CimiError):
        exc = errors.BackendFailure(exc)
    raise falcon.HTTPError(falcon.code_to_http_status(errors.status_of(exc)), title=exc.message,
                           description=exc.message, headers=exc.headers or None)


def _unexpected(req, resp, exc, params):
    log.error("unhandled error on %s %s", req.method, req.path, exc_info=exc)
    _domain_error(req, resp, errors.CimiError("internal error; the server log has the details"), params)


class Rendered:
    """Rendered single resources, keyed by everything their bytes depend on.

    The key holds the row's version (bumped by every change, from any front
    end), so an entry is never stale; it only saves re-rendering.
    """

    def __init__(self, size=4096):
        self.size, self._items, self._lock = size, collections.OrderedDict(), threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value):
        with self._lock:
            self._items[key] = value
            if len(self._items) > self.size:
                self._items.popitem(last=False)


class Api:
    """Every CIMI URL, by suffix: cep, collection, item, member, subitem."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.rendered = Rendered()

    # --- helpers --------------------------------------------------------------
    def _send(self, req, resp, status, type_name, doc, collection_of=None, headers=None):
        resp.status = falcon.code_to_http_status(status)
        if doc is not None:
            resp.data, resp.content_type = media.render(req.context.fmt, type_name, doc, collection_of)
        else:                       # an empty answer still names the format the client negotiated
            resp.content_type = media.media_type(req.context.fmt)
        for name, value in (headers or {}).items():
            resp.set_header(name, value)

    def _send_job(self, req, resp, job):
        """Answer a delete or an action: 202 with its Job (DSP0263 4.2.1.7), or 200 when done at once."""
        ctx = req.context.ctx
        doc = job and represent.document(ctx, registry.get("Job"), job)
        self._send(req, resp, 202 if job else 200, "Job", doc, headers=self._job_headers(ctx, job))

    def _body(self, req, type_name, roots):
        return media.read_body(req, type_name, roots, self.cloud.config.max_body)

    def _kind(self, collection, parent=None):
        kind = registry.by_collection(collection, parent)
        if kind is None:
            raise errors.NotFound(f"no collection {collection}")
        return kind

    def _row(self, ctx, kind, row_id, parent=None):
        row = store.get(kind.name, row_id, parent)
        if not represent.can_read(ctx.user, kind.name, row):
            raise errors.NotFound(f"no {kind.name} {row_id}")
        return row

    def _job_headers(self, ctx, job, location=None):
        headers = {}
        if job is not None:
            headers["CIMI-Job-URI"] = represent.href(ctx, registry.get("Job"), job)
        if location:
            headers["Location"] = location
        return headers

    # --- CloudEntryPoint ------------------------------------------------------------
    def on_get_cep(self, req, resp):
        ctx = req.context.ctx
        doc = self.cloud.entry_point(ctx)
        if ctx.user is auth.VISITOR:            # names the collections, nothing about anyone
            doc = {k: v for k, v in doc.items() if k in PUBLIC_CEP or registry.by_collection(k)}
        self._send(req, resp, 200, "CloudEntryPoint", doc, headers={"Vary": "Authorization"})

    # --- collections ------------------------------------------------------------------
    def _list(self, req, resp, kind, parent_id=None):
        ctx = req.context.ctx
        q = queries.parse(req.params, kind)
        rows, count = store.select(kind.name, ctx.user, q, parent=parent_id)
        doc = represent.collection(ctx, kind, rows, count, parent_id)
        items = [represent.select(represent.expand(ctx, kind, item, q.expand), q.select)
                 for item in doc.get(kind.items_key, [])]
        if items:
            doc[kind.items_key] = items
        self._send(req, resp, 200, kind.name + "Collection", doc, collection_of=kind.name)

    def _add(self, req, resp, kind, parent=None):
        ctx = req.context.ctx
        body = self._body(req, kind.create_schema or kind.name,
                          {kind.create_schema or kind.name, kind.name, (kind.create_schema or "") + "Create"})
        status, doc, job = crud.add(ctx, kind, body, parent)
        self._send(req, resp, status, kind.name, doc, headers=self._job_headers(ctx, job, doc["id"]))

    def on_get_collection(self, req, resp, collection):
        self._list(req, resp, self._kind(collection))

    def on_post_collection(self, req, resp, collection):
        kind = self._kind(collection)
        media_type = (req.content_type or "").split(";")[0].strip().lower()
        if media_type in kind.uploads:      # raw bytes, not a CIMI document (a provider extension)
            ctx = req.context.ctx
            upload = imagefiles.Upload(req.bounded_stream, req.content_length, media_type,
                                       {name: req.get_param(name) for name in req.params})
            status, doc, job = crud.receive(ctx, kind, media_type, upload)
            return self._send(req, resp, status, kind.name, doc, headers=self._job_headers(ctx, job, doc["id"]))
        self._add(req, resp, kind)

    # --- items --------------------------------------------------------------------------
    def _get(self, req, resp, kind, row_id, parent=None):
        ctx = req.context.ctx
        head = store.head(kind.name, row_id, parent)
        if not represent.can_read(ctx.user, kind.name, head):
            raise errors.NotFound(f"no {kind.name} {row_id}")
        tag = f'W/"{head.version}"'
        if kind.shown is None and crud.etag_matches(req.get_header("If-None-Match"), tag):
            resp.status = falcon.HTTP_304
            return
        plain = not (req.has_param("$select") or req.has_param("$expand")) and kind.shown is None
        key = (kind.name, row_id, head.version, req.context.fmt, ctx.base,
               represent.can_write(ctx.user, kind, head))
        cached = self.rendered.get(key) if plain else None
        if cached is None:
            row = store.get(kind.name, row_id, parent)
            selected, expanded = queries.parse_item(req.params)
            doc = represent.select(represent.expand(ctx, kind, represent.document(ctx, kind, row), expanded),
                                   selected)
            cached = media.render(req.context.fmt, kind.name, doc)
            if plain:
                self.rendered.put(key, cached)
        resp.data, resp.content_type = cached
        resp.set_header("ETag", tag)

    def _put(self, req, resp, kind, row):
        ctx = req.context.ctx
        body = self._body(req, kind.name, {kind.name})
        selected, _ = queries.parse_item(req.params)
        selected = None if queries.ALL in selected else sorted(selected)
        doc, updated = crud.edit(ctx, kind, row, body, selected, req.get_header("If-Match"))
        self._send(req, resp, 200, kind.name, doc, headers={"ETag": crud.etag(updated)})

    def _delete(self, req, resp, kind, row):
        ctx = req.context.ctx
        _, job = crud.delete(ctx, kind, row, req.get_header("If-Match"))
        self._send_job(req, resp, job)

    def on_get_item(self, req, resp, collection, item):
        self._get(req, resp, self._kind(collection), item)

    def on_put_item(self, req, resp, collection, item):
        kind = self._kind(collection)
        self._put(req, resp, kind, self._row(req.context.ctx, kind, item))

    def on_delete_item(self, req, resp, collection, item):
        kind = self._kind(collection)
        self._delete(req, resp, kind, self._row(req.context.ctx, kind, item))

    def on_post_item(self, req, resp, collection, item):
        """POST under a collection: a collection-level operation such as import."""
        kind = self._kind(collection)
        if item not in kind.collection_actions:
            raise errors.MethodNotAllowed(f"POST is not allowed on a {kind.name}; actions have their own href",
                                          allowed=crud.item_methods(kind))
        ctx = req.context.ctx
        status, doc, job = crud.perform(ctx, kind, item, self._body(req, "Action", {"Action"}))
        self._send(req, resp, status, kind.name, doc, headers=self._job_headers(ctx, job, doc["id"]))

    # --- members: sub-collections and actions ------------------------------------------
    def on_get_member(self, req, resp, collection, item, member):
        ctx = req.context.ctx
        parent_kind = self._kind(collection)
        row = self._row(ctx, parent_kind, item)
        view = parent_kind.views.get(member)
        if view is None:
            return self._list(req, resp, self._kind(member, parent_kind.name), parent_id=item)
        if not represent.can_write(ctx.user, parent_kind, row):      # only who may act on it reads it
            raise errors.NotFound(f"no {member} of {parent_kind.name} {item}")
        resp.text, resp.content_type = view.read(ctx, row, dict(req.params)), view.media_type

    def on_post_member(self, req, resp, collection, item, member):
        ctx = req.context.ctx
        parent_kind = self._kind(collection)
        row = self._row(ctx, parent_kind, item)
        child = registry.by_collection(member, parent_kind.name)
        if child is not None:
            return self._add(req, resp, child, parent=row)
        body = self._body(req, "Action", {"Action"})
        self._send_job(req, resp, crud.act(ctx, parent_kind, row, member, body, req.get_header("If-Match")))

    # --- sub-collection items -------------------------------------------------------------
    def _subrow(self, req, collection, item, member, subitem):
        ctx = req.context.ctx
        parent_kind = self._kind(collection)
        self._row(ctx, parent_kind, item)
        kind = self._kind(member, parent_kind.name)
        return kind, self._row(ctx, kind, subitem, parent=item)

    def on_get_subitem(self, req, resp, **ids):
        kind, row = self._subrow(req, **ids)
        self._get(req, resp, kind, row["id"], row["parent"])

    def on_put_subitem(self, req, resp, **ids):
        self._put(req, resp, *self._subrow(req, **ids))

    def on_delete_subitem(self, req, resp, **ids):
        self._delete(req, resp, *self._subrow(req, **ids))

    def on_get_inline(self, req, resp, submember, **ids):
        """A collection a sub-collection item keeps inline (a NIC's addresses)."""
        kind, row = self._subrow(req, **ids)
        item_type = kind.schema["properties"].get(submember, {}).get("x-collection")
        if item_type is None:
            raise errors.NotFound(f"{kind.name} has no collection {submember}")
        ctx = req.context.ctx
        doc = {"resourceURI": type_uri(item_type + "Collection"),
               "id": f"{represent.href(ctx, kind, row)}/{submember}", "count": 0, **row["data"].get(submember, {})}
        self._send(req, resp, 200, item_type, doc, collection_of=item_type)


def create_app(cloud):
    """Wire the application for a started Cloud (store, backend, jobs)."""
    app = falcon.App(middleware=[Middleware(cloud)])
    app.req_options.strip_url_path_trailing_slash = True
    app.req_options.keep_blank_qs_values = True
    app.set_error_serializer(serialize_error)
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler((errors.CimiError, backends.BackendError), _domain_error)
    api = Api(cloud)
    app.add_route(CIMI_ROOT, api, suffix="cep")
    app.add_route(CIMI_ROOT + "/cloudEntryPoint", api, suffix="cep")
    app.add_route(CIMI_ROOT + "/{collection}", api, suffix="collection")
    app.add_route(CIMI_ROOT + "/{collection}/{item}", api, suffix="item")
    app.add_route(CIMI_ROOT + "/{collection}/{item}/{member}", api, suffix="member")
    app.add_route(CIMI_ROOT + "/{collection}/{item}/{member}/{subitem}", api, suffix="subitem")
    app.add_route(CIMI_ROOT + "/{collection}/{item}/{member}/{subitem}/{submember}", api, suffix="inline")
    app.add_route(CIMI_ROOT + "/exports/{name}", downloads.Exports(cloud))
    # /ui and /ui/ (the trailing slash is stripped) fall back to index.html; its assets use absolute paths.
    app.add_static_route(UI_ROOT, UI_FILES, fallback_filename="index.html")
    return app
