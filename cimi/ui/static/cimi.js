// A small CIMI client: everything the console does goes through here, to /cimi/ only,
// with the user's Basic credentials in an Authorization header (never a cookie), so
// another site cannot make the browser act for the user (no CSRF).

const STORE = "cimi.credentials";          // sessionStorage: gone when the tab closes
export const NS = "http://schemas.dmtf.org/cimi/1/";
export const ACTION = NS + "action/";
const FINAL = new Set(["SUCCESS", "FAILED", "STOPPED"]);

export class CimiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

let onSignedOut = () => {};
export function whenSignedOut(fn) { onSignedOut = fn; }

function token(user, password) {
  const raw = new TextEncoder().encode(`${user}:${password}`);
  return "Basic " + btoa(String.fromCharCode(...raw));
}

export function user() {
  const saved = sessionStorage.getItem(STORE);
  return saved ? JSON.parse(saved).user : null;
}

function authorization() {
  const saved = sessionStorage.getItem(STORE);
  return saved ? JSON.parse(saved).authorization : null;
}

export function signOut() {
  sessionStorage.removeItem(STORE);
  cachedEntryPoint = null;
}

/** Check the credentials against the CloudEntryPoint; keep them for this tab only. */
export async function signIn(name, password) {
  const authz = token(name, password);
  const resp = await fetch("/cimi/cloudEntryPoint", {headers: headers(authz), cache: "no-store"});
  if (!resp.ok) throw new CimiError(await messageOf(resp), resp.status);
  sessionStorage.setItem(STORE, JSON.stringify({user: name, authorization: authz}));
  cachedEntryPoint = await resp.json();
  return cachedEntryPoint;
}

function headers(authz, extra = {}) {
  // X-Requested-With: the server then sends no Basic challenge, so no browser login dialog on a 401.
  return {"Authorization": authz, "Accept": "application/json", "X-Requested-With": "XMLHttpRequest", ...extra};
}

/** The path and query of an href: the console talks to its own origin only. */
export function local(href) {
  const url = new URL(href, location.href);
  return url.pathname + url.search;
}

async function messageOf(resp) {
  const text = await resp.text();
  try {
    const doc = JSON.parse(text);
    return doc.statusMessage || doc.message || `${resp.status} ${resp.statusText}`;
  } catch {
    return text.trim() || `${resp.status} ${resp.statusText}`;
  }
}

/** One request; returns {status, doc, job, location, text}. A 4xx/5xx throws CimiError. */
export async function request(method, href, {body, type = "application/json", accept, raw = false} = {}) {
  const extra = accept ? {Accept: accept} : {};
  const init = {method, headers: headers(authorization(), extra), cache: "no-store"};
  if (body !== undefined) {
    init.body = type === "application/json" ? JSON.stringify(body) : body;
    init.headers["Content-Type"] = type;
  }
  const resp = await fetch(local(href), init);
  if (resp.status === 401) {
    signOut();
    onSignedOut("Your session ended: sign in again.");
    throw new CimiError("authentication required", 401);
  }
  if (!resp.ok) throw new CimiError(await messageOf(resp), resp.status);
  const result = {status: resp.status, job: resp.headers.get("CIMI-Job-URI"),
                  location: resp.headers.get("Location")};
  if (raw) result.text = await resp.text();
  else {
    const text = await resp.text();
    result.doc = text.trim() ? JSON.parse(text) : null;
  }
  return result;
}

export const get = async (href) => (await request("GET", href)).doc;

let cachedEntryPoint = null;
export async function entryPoint() {
  if (!cachedEntryPoint) cachedEntryPoint = await get("/cimi/cloudEntryPoint");
  return cachedEntryPoint;
}

/** The href of a CloudEntryPoint collection, e.g. "machines". */
export async function collection(key) {
  const cep = await entryPoint();
  if (!cep[key]) throw new CimiError(`this cloud has no ${key} collection`);
  return cep[key].href;
}

/** A CIMI query (DSP0263 4.1.6): $filter, $orderby, $first/$last, evaluated by the server. */
export async function query(href, {filter, orderby, first, last, select} = {}) {
  const params = new URLSearchParams();
  if (filter) params.set("$filter", filter);
  if (orderby) params.set("$orderby", orderby);
  if (first) params.set("$first", first);
  if (last) params.set("$last", last);
  if (select) params.set("$select", select);
  const qs = params.toString();
  return get(qs ? `${local(href)}?${qs}` : href);
}

/** The items of a collection document, whatever its items key. */
export function items(doc) {
  for (const [key, value] of Object.entries(doc || {})) {
    if (Array.isArray(value) && key !== "operations") return value;
  }
  return [];
}

/** A quoted string for $filter; the grammar escapes with a backslash. */
export function literal(value) {
  return "'" + String(value).replace(/\\/g, "\\\\").replace(/'/g, "\\'") + "'";
}

/** The href of an advertised operation: "delete", "edit", or an action name such as "stop". */
export function operation(resource, name) {
  for (const op of resource.operations || []) {
    if (op.rel === name || op.rel === ACTION + name || op.rel.endsWith(":" + name)) return op.href;
  }
  return null;
}

/** Poll a Job until it ends; onProgress(job) after each read. */
export async function waitJob(href, onProgress, interval = 250) {
  for (;;) {
    const job = await get(href);
    onProgress?.(job);
    if (FINAL.has(job.state)) return job;
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** POST a file's bytes with upload progress (fetch has none): XMLHttpRequest. */
export function upload(href, file, params, type, onProgress) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", qs ? `${local(href)}?${qs}` : local(href));
    for (const [name, value] of Object.entries(headers(authorization(), {"Content-Type": type}))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : file.size);
    xhr.onerror = () => reject(new CimiError("the upload failed (network error)"));
    xhr.onload = () => {
      let doc = null;
      try { doc = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
      if (xhr.status >= 400) {
        reject(new CimiError(doc?.statusMessage || `${xhr.status} ${xhr.statusText}`, xhr.status));
      } else {
        resolve({status: xhr.status, doc, job: xhr.getResponseHeader("CIMI-Job-URI"),
                 location: xhr.getResponseHeader("Location")});
      }
    };
    xhr.send(file);
  });
}

/** Fetch a file with the credentials and hand it to the browser as a download. */
export async function download(href, filename, onProgress) {
  const resp = await fetch(local(href), {headers: headers(authorization(), {Accept: "*/*"})});
  if (!resp.ok) throw new CimiError(await messageOf(resp), resp.status);
  const total = Number(resp.headers.get("Content-Length")) || 0;
  const reader = resp.body.getReader();
  const chunks = [];
  let received = 0;
  for (;;) {
    const {done, value} = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    onProgress?.(received, total);
  }
  const url = URL.createObjectURL(new Blob(chunks, {type: "application/x-tar"}));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

/** Base64 of a UTF-8 string (userData travels Base64-encoded). */
export function base64(text) {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}
