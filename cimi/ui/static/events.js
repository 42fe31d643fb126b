// Events: one EventLog's Events, newest first (DSP0263 5.17.8, 5.17.13: GET <eventLog>/events,
// filtered, sorted and paged by the server). The logs to pick from are those the API serves
// this user: their own (`user:<name>`); an admin's, every user's and the provider's too.
import * as cimi from "./cimi.js";
import {field, fill, h} from "./dom.js";
import {listView} from "./list.js";

const NEWEST = "timestamp:desc";
const NO_LOG = "You have no event log yet: it starts with your first resource.";
const last = (uri) => (uri || "").split("/").pop();

/** The console's address of a log's Events, e.g. for a Machine's eventLog href. */
export function eventsHref(logHref) {
  return `#/events/${encodeURIComponent(cimi.local(logHref))}`;
}

/** A log's name as a reader knows it: "alice (user)", "provider", "web1 (machines)". */
function logLabel(log) {
  if (log.scope === "user") return `${(log.name || "").replace(/^user:/, "")} (user)`;
  if (log.scope === "provider") return "provider (sign-ins, admin actions, the provider's resources)";
  return `${log.name || last(log.id)} (${(log.targetResource?.href || "").split("/")[0] || "resource"})`;
}

/**
 * Events of one second share a timestamp (whole seconds) and the server breaks ties oldest
 * first; an Event's id starts with its time, so newest first puts the later id first.
 */
function newestFirst(events, orderby) {
  if (orderby !== NEWEST) return events;
  return [...events].sort((a, b) => b.timestamp.localeCompare(a.timestamp) || b.id.localeCompare(a.id));
}

const COLUMNS = [
  {label: "Time", value: (e) => e.timestamp},
  {label: "Type", value: (e) => [last(e.type), e.content?.operation || e.content?.change]
    .filter(Boolean).join(": ")},
  {label: "State", value: (e) => e.content?.state && h("span", {class: `state state-${e.content.state.toLowerCase()}`},
    e.content.previous ? `${e.content.previous} → ${e.content.state}` : e.content.state)},
  {label: "Resource", value: (e) => e.content?.resName !== undefined
    ? h("span", {class: "name"}, `${last(e.content.resType)} ${e.content.resName}`) : e.content?.user},
  {label: "Initiator", value: (e) => e.content?.initiator},
  {label: "Outcome", value: (e) => [e.outcome, e.severity && e.severity !== "low" ? `(${e.severity})` : null]
    .filter(Boolean).join(" ")},
  {label: "Detail", value: (e) => e.content?.detail},
];

/** The log at a path from the address bar (of this API only), or null with the reason in `message`. */
async function readLog(path, message) {
  try {
    if (!path.startsWith("/cimi/eventLogs/")) throw new cimi.CimiError("not an event log", 404);
    return await cimi.get(path);
  } catch (err) {
    message.textContent = err.status === 404 ? "No such event log, or not yours to read." : err.message;
    return null;
  }
}

/** The Events view; `logPath` (from #/events/<path>) picks a log, else the user's own. */
export function eventsView(logPath) {
  let log = null;
  const picker = h("select");
  const holder = h("div");
  const message = h("p", {class: "form-message", role: "status"});
  let list = null;

  const counts = h("p", {class: "hint", "aria-live": "polite"});

  /** The log's Events by severity, as the server counts them at each read of the log. */
  function count() {
    if (!log) return;
    cimi.get(log.id).then((read) => {
      counts.textContent = `In this log: ${Object.entries(read.summary || {}).map(([k, n]) => `${n} ${k}`).join(", ")}`;
    }, () => { counts.textContent = ""; });
  }

  function show() {
    count();
    list = listView({title: "Events", source: async () => {
      if (!log) throw new cimi.CimiError(message.textContent || NO_LOG);
      return log.events.href;
    }, orderings: [{value: NEWEST, label: "Newest"}, {value: "timestamp:asc", label: "Oldest"}],
    columns: COLUMNS, arrange: newestFirst, example: "content/state='ERROR' or outcome='Failure'"});
    fill(holder, list.el);
  }

  async function load() {
    try {
      const mine = cimi.items(await cimi.query(await cimi.collection("eventLogs"),
        {filter: "scope!='resource'", orderby: "name:asc", first: 1, last: 200}));
      log = mine.find((l) => l.name === `user:${cimi.user()}`) || mine[0] || null;
      if (logPath) log = await readLog(logPath, message);
      const logs = log && !mine.some((l) => l.id === log.id) ? [log, ...mine] : mine;
      fill(picker, logs.map((l) => h("option", {value: l.id}, logLabel(l))));
      picker.value = log?.id || "";
      picker.onchange = () => {
        log = logs.find((l) => l.id === picker.value);
        message.textContent = "";
        history.replaceState(null, "", eventsHref(log.id));
        show();
      };
    } catch (err) {
      message.textContent = err.message;
    }
    show();
  }

  load();
  return {el: h("div", {}, h("form", {class: "inline", onsubmit: (e) => e.preventDefault()},
    field("Event log", picker)), message, counts,
    h("p", {class: "hint"}, "Filter on any attribute, also inside content: content/state='ERROR', outcome='Failure', ",
      "type='http://schemas.dmtf.org/cimi/1/event/access', timestamp>2026-11-01T00:00:00Z."), holder),
  refresh: () => { count(); list?.refresh(); }};
}
