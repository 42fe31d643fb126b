// Read-only sharing (the server's `acl` extension, Nuvla's owner + rules): a "Shared with"
// column and a share form. Both change the acl with PUT <resource>?$select=acl, and only
// where the resource advertises `edit`: the owner and administrators see its rules, the
// people it is shared with see only its owner (docs/operating.md, sharing).
import * as cimi from "./cimi.js";
import {field, fill, h, select} from "./dom.js";
import * as jobs from "./jobs.js";
import {nameOf} from "./list.js";

const KINDS = [{value: "user", label: "a user"}, {value: "group", label: "a group"},
               {value: "everyone", label: "everyone"}];

/** Replace the acl rules of `resource` (the server answers at once: no Job). */
async function putRules(resource, rules, label) {
  const href = `${cimi.local(cimi.operation(resource, "edit"))}?$select=acl`;
  await cimi.request("PUT", href, {body: {acl: {rules}}});
  jobs.note(label);                                  // the tray says so, and the view reloads
}

const rulesOf = (resource) => resource.acl?.rules || [];

let known = null;
/**
 * The user and group names this user may read in `users` (an administrator: everyone's), as
 * suggestions for the share form; fetched again after 30 s. Rules still take any name typed.
 */
function knownNames() {
  if (!known || Date.now() - known.at > 30000) {
    const names = cimi.collection("users")
      .then((href) => cimi.query(href, {orderby: "name:asc", first: 1, last: 500}))
      .then((doc) => {
        const users = cimi.items(doc);
        return {user: users.map((u) => u.name), group: [...new Set(users.flatMap((u) => u.groups || []))].sort()};
      }, () => ({user: [], group: []}));
    known = {at: Date.now(), names};
  }
  return known.names;
}

/** A button that takes one rule back; a refusal goes to the job tray, as a failed action does. */
function unshareButton(resource, principal) {
  const label = `unshare ${nameOf(resource)} from ${principal}`;
  return h("button", {type: "button", class: "danger", "aria-label": label, onclick: async (e) => {
    e.currentTarget.disabled = true;
    try {
      await putRules(resource, rulesOf(resource).filter((r) => r.principal !== principal), label);
    } catch (err) {
      jobs.note(label, err);
    }
  }}, "unshare");
}

/** Who may read `resource` besides its owner (for its owner and admins), or whose it is (for the rest). */
function sharedWith(resource) {
  const acl = resource.acl;
  if (!acl) return "";
  if (!acl.rules) return acl.owner ? `shared by ${acl.owner.replace(/^user:/, "")}` : "";
  const editable = cimi.operation(resource, "edit");
  return h("ul", {class: "shares"}, rulesOf(resource).map((rule) => h("li", {},
    h("span", {class: "principal"}, rule.principal), editable ? unshareButton(resource, rule.principal) : null)));
}

/** The list column. */
export const SHARED = {label: "Shared with", value: sharedWith};

let boxes = 0;
/** A share form in a <details> (user, group or everyone), or null without `edit`. */
export function shareBox(resource) {
  if (!cimi.operation(resource, "edit")) return null;
  const label = nameOf(resource);
  const kind = select(KINDS);
  const suggestions = h("datalist", {id: `share-names-${++boxes}`});
  const name = h("input", {autocomplete: "off", spellcheck: "false", list: suggestions.id});
  const nameField = field("User or group name", name);
  const suggest = async () => {
    const names = (await knownNames())[kind.value] || [];
    fill(suggestions, names.map((n) => h("option", {value: n})));
  };
  kind.addEventListener("change", () => {
    nameField.hidden = kind.value === "everyone";
    suggest();
  });
  suggest();
  const message = h("p", {class: "form-message", role: "status"});
  const form = h("form", {class: "share", onsubmit: async (e) => {
    e.preventDefault();
    message.textContent = "";
    const principal = kind.value === "everyone" ? "everyone" : `${kind.value}:${name.value.trim()}`;
    if (principal.endsWith(":")) {
      message.textContent = `Name the ${kind.value}.`;
      return;
    }
    const rules = [...rulesOf(resource).filter((r) => r.principal !== principal), {principal, right: "VIEW"}];
    try {
      await putRules(resource, rules, `share ${label} with ${principal}`);
    } catch (err) {
      message.textContent = err.message;             // the server's reason, e.g. "acl/rules: no user nobody"
    }
  }}, field("Share with", kind), nameField, suggestions,
    h("button", {type: "submit", "aria-label": `share ${label}`}, "Share"), message);
  form.addEventListener("input", () => { message.textContent = ""; });    // an old reason no longer applies
  return h("details", {class: "share-box"}, h("summary", {}, "share"), form);
}
