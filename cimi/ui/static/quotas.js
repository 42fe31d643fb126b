// Quotas (the server's Quota extension, docs/operating.md): each limit as `used / limit`
// with a meter. Users read theirs and the default; an administrator, to whom the collection
// advertises `add`, sets one (the default or a user's), edits its limits and deletes it.
import * as cimi from "./cimi.js";
import {bytes, field, h} from "./dom.js";
import * as jobs from "./jobs.js";
import {listView} from "./list.js";
import {operationButtons} from "./operations.js";
import {createBox, view} from "./resources.js";

const GiB_KiB = 1024 * 1024;
const count = (n) => String(n);
const kib = (n) => bytes(n * 1024);
/** The limits of a Quota: attribute, label, how a value reads, and the form's unit (KiB per unit). */
const LIMITS = [
  {name: "cpu", label: "vCPUs", show: count},
  {name: "memory", label: "Memory", show: kib, unit: "GiB", per: GiB_KiB},
  {name: "volumeCapacity", label: "Volume capacity", show: kib, unit: "GiB", per: GiB_KiB},
  {name: "machines", label: "Machines", show: count},
  {name: "volumes", label: "Volumes", show: count},
  {name: "machineImages", label: "Images", show: count},
];

/** Whose quota: a user, or the default (which has no user). */
const whose = (q) => (q.user === undefined ? "(default)" : q.user);

/** `used / limit` and a meter; an absent limit is unlimited. */
function usedOf(limit) {
  return (q) => {
    const max = q[limit.name];
    const used = q.usage?.[limit.name];
    const most = max === undefined ? "unlimited" : limit.show(max);
    const text = used === undefined ? most : `${limit.show(used)} / ${most}`;     // an admin's default: no usage
    if (max === undefined || used === undefined) return h("span", {class: "quota"}, text);
    return h("span", {class: "quota"}, h("meter", {min: 0, max: Math.max(max, 1), value: used, low: 0.7 * max,
      high: 0.9 * max, optimum: 0, "aria-label": `${limit.label} of ${whose(q)}: ${text}`}), " ", text);
  };
}

/** byValue and quarantineRetention in words (set with `cimi quotas set`, not in this view). */
function others(q) {
  const byValue = q.byValue || {};
  const said = [
    byValue.machineConfig === false && "machine configurations by reference only",
    byValue.volumeConfig === false && "volume configurations by reference only",
    byValue.cpu && `by value ≤ ${byValue.cpu} vCPUs`,
    byValue.memory && `by value ≤ ${kib(byValue.memory)} memory`,
    byValue.capacity && `by value ≤ ${kib(byValue.capacity)} per volume`,
    ...Object.entries(q.quarantineRetention || {}).map(([key, s]) => `deleted ${key} kept ${s} s`),
  ];
  return said.filter(Boolean).join("; ");
}

/** Number inputs for every limit, filled from `quota`; values() → {name: KiB or count} of those set. */
function limitInputs(quota = {}) {
  const inputs = LIMITS.map((l) => {
    const value = quota[l.name] === undefined ? "" : String(quota[l.name] / (l.per || 1));
    const input = h("input", {type: "number", min: 0, step: l.per ? "any" : 1, value, placeholder: "unlimited"});
    return [l, input];
  });
  const values = () => Object.fromEntries(inputs.filter(([, i]) => i.value.trim() !== "")
    .map(([l, i]) => [l.name, Math.round(Number(i.value) * (l.per || 1))]));
  const fields = inputs.map(([l, i]) => field(l.unit ? `${l.label} (${l.unit})` : l.label, i));
  return {controls: h("div", {class: "limits"}, fields), values};
}

/** Send a Quota request that answers at once (201 or 200, no Job), then reload the view. */
async function send(label, method, href, body) {
  await cimi.request(method, href, {body});             // throws: the form shows the server's message
  jobs.note(label);
}

function editBox(q) {
  const href = cimi.operation(q, "edit");
  if (!href) return null;
  const {controls, values} = limitInputs(q);
  // $select names every limit, so one left empty is removed: unlimited (DSP0263 4.2.1.3)
  const select = LIMITS.map((l) => l.name).join(",");
  return createBox("edit limits", controls, () => send(`edit quota ${whose(q)}`, "PUT",
    `${cimi.local(href)}?$select=${select}`, values()), "Save");
}

function addBox() {
  const user = h("input", {autocomplete: "off", spellcheck: "false"});
  const {controls, values} = limitInputs();
  return createBox("Set a quota", [field("User", user, "Empty: the default, for every user without their own"),
    controls, h("p", {class: "hint"}, "An empty limit is unlimited.")], async () => {
    const body = {resourceURI: cimi.NS + "Quota", ...values()};
    if (user.value.trim()) body.user = user.value.trim();
    await send(`set quota ${body.user || "default"}`, "POST", await cimi.collection("quotas"), body);
  }, "Set quota");
}

export function quotasView() {
  const list = listView({title: "Quotas", source: "quotas",
    orderings: [{value: "user:asc", label: "User"}, {value: "created:desc", label: "Newest"}],
    columns: [{label: "User", value: (q) => h("span", {class: q.user === undefined ? "quota" : "name"}, whose(q))},
              ...LIMITS.map((l) => ({label: l.label, value: usedOf(l)})), {label: "Other", value: others}],
    actions: (q) => [...operationButtons({...q, name: `quota ${whose(q)}`}), editBox(q)]});
  const parts = h("div", {},
    h("p", {class: "hint"},
      "Your own quota, when you have one, replaces the default. Administrators are not limited."));
  // Only an administrator is offered `add` on the collection: the form appears for them alone.
  cimi.collection("quotas").then((href) => cimi.query(href, {first: 1, last: 1})).then((doc) => {
    if (cimi.operation(doc, "add")) parts.append(addBox());
  }, () => {});
  return view([parts], [list]);
}
