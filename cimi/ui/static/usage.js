// Usage: what each EventLog's resources used over a period (GET <eventLog>/usage?from=&to=,
// an extension view the server derives from the log's state Events). A user reads their own
// log; an admin every user's, so the table has a row per user.
import * as cimi from "./cimi.js";
import {field, h} from "./dom.js";
import {listView} from "./list.js";

const USAGE_REL = "urn:darn-simple-cloud:cimi:usage";
const ASPECTS = [["cpuHours", "vCPU-hours"], ["memoryGiBHours", "Memory (GiB-hours)"],
                 ["volumeGiBHours", "Volumes (GiB-hours)"], ["imageGiBHours", "Images (GiB-hours)"]];
const DAY = 86400000;

const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);

/** Whose usage a log holds: the user of `user:<name>`, else the log's name. */
function owner(log) {
  return (log.name || log.id.split("/").pop()).replace(/^user:/, "");
}

export function usageView() {
  const today = isoDay(Date.now());
  const from = h("input", {type: "date", required: true, value: isoDay(Date.now() - 30 * DAY)});
  const to = h("input", {type: "date", required: true, value: today});
  const message = h("p", {class: "form-message", role: "status"});
  let figures = new Map();            // log id -> Promise of its usage document, for this period

  /** The period as the server takes it: whole UTC days, the last one included, never past now. */
  function period() {
    const params = new URLSearchParams({from: `${from.value}T00:00:00Z`});
    if (to.value < today) params.set("to", `${isoDay(Date.parse(to.value) + DAY)}T00:00:00Z`);
    return params;
  }

  function usageOf(log) {
    if (!figures.has(log.id)) {
      const href = cimi.operation(log, USAGE_REL);
      const found = href ? cimi.get(`${cimi.local(href)}?${period()}`) : Promise.resolve(null);
      found.then((doc) => {
        if (doc) message.textContent = `From ${doc.from} to ${doc.to} (UTC).`;
      }, (err) => { message.textContent = err.message; });
      figures.set(log.id, found);
    }
    return figures.get(log.id);
  }

  function cell(log, key) {
    const out = h("span", {class: "figure"}, "…");
    usageOf(log).then((doc) => { out.textContent = doc ? doc.usage[key] : "—"; }, () => { out.textContent = "—"; });
    return out;
  }

  const list = listView({title: "Usage", source: "eventLogs", filter: "scope='user'",
    orderings: [{value: "name:asc", label: "Name"}, {value: "name:desc", label: "Name, Z to A"}],
    columns: [{label: "User", value: (log) => h("span", {class: "name"}, owner(log))},
              ...ASPECTS.map(([key, label]) => ({label, value: (log) => cell(log, key)}))]});
  function refresh() {
    figures = new Map();
    message.textContent = "";
    list.refresh();
  }
  const form = h("form", {class: "query", onsubmit: (e) => { e.preventDefault(); refresh(); }},
    field("From (UTC)", from), field("To (UTC, included)", to), h("button", {type: "submit"}, "Show usage"));
  return {el: h("div", {}, h("p", {class: "hint"}, "vCPU-hours and memory count while a Machine is STARTED; " +
    "volumes and images while they exist. The server derives them from the event logs."), form, message, list.el),
  refresh};
}
