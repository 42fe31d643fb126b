// Read-only sharing (the server's `acl` extension, Nuvla's owner + rules): a "Shared with"
// column and a share form. Both change the acl with PUT <resource>?$select=acl, and only
// where the resource advertises `edit`: the owner and administrators see its rules, the
// people it is shared with see only its owner (docs/operating.md, sharing).
import * as cimi from "./cimi.js";
import {field, h, select} from "./dom.js";
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

/** Who sees `resource` besides its owner, each with an unshare button if it may change. */
function sharedWith(resource) {
  const acl = resource.acl;
  if (!acl) return "";
  if (!acl.rules) return acl.owner ? `shared by ${acl.owner.replace(/^user:/, "")}` : "";
  const editable = cimi.operation(resource, "edit");
  const label = nameOf(resource);
  return h("ul", {class: "shares"}, rulesOf(resource).map((rule) => h("li", {}, h("span", {class: "principal"}, rule.principal),
    editable ? h("button", {type: "button", class: "danger", "aria-label": `unshare ${label} from ${rule.principal}`,
      onclick: async (e) => {
        e.currentTarget.disabled = true;
        const rest = rulesOf(resource).filter((r) => r.principal !== rule.principal);
        try {
          await putRules(resource, rest, `unshare ${label} from ${rule.principal}`);
        } catch (err) {
          jobs.note(`unshare ${label} from ${rule.principal}`, err);
        }
      }}, "unshare") : null)));
}

/** The list column. */
export const SHARED = {label: "Shared with", value: sharedWith};

/** A share form in a <details> (user, group or everyone), or null without `edit`. */
export function shareBox(resource) {
  if (!cimi.operation(resource, "edit")) return null;
  const label = nameOf(resource);
  const kind = select(KINDS);
  const name = h("input", {autocomplete: "off", spellcheck: "false"});
  const nameField = field("User or group name", name);
  kind.addEventListener("change", () => { nameField.hidden = kind.value === "everyone"; });
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
  }}, field("Share with", kind), nameField, h("button", {type: "submit", "aria-label": `share ${label}`}, "Share"), message);
  form.addEventListener("input", () => { message.textContent = ""; });    // an old reason no longer applies
  return h("details", {class: "share-box"}, h("summary", {}, "share"), form);
}
