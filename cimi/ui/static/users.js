// Users (the `users` extension collection): administrators add people, set their password,
// admin right and groups, and delete them; everyone else sees their own record and changes
// its password only (the API lets a user's own record be edited with $select=password).
import * as cimi from "./cimi.js";
import {field, fill, h} from "./dom.js";
import * as jobs from "./jobs.js";
import {listView, nameOf} from "./list.js";
import {operationButtons} from "./operations.js";
import {createBox, view} from "./resources.js";

const groupsOf = (text) => [...new Set(text.split(",").map((g) => g.trim()).filter(Boolean))];

/**
 * The form that changes one user: a new password (optional), the admin right, the groups; for
 * someone who is no administrator (`admin()` false), their own password only.
 */
function editor(refresh, isAdmin) {
  const title = h("h3", {tabindex: -1});
  const password = h("input", {type: "password", autocomplete: "new-password"});
  const admin = h("input", {type: "checkbox"});
  const groups = h("input", {autocomplete: "off"});
  const message = h("p", {class: "form-message", role: "status"});
  let editing = null;
  const form = h("form", {class: "create", onsubmit: async (e) => {
    e.preventDefault();
    const body = isAdmin() ? {admin: admin.checked, groups: groupsOf(groups.value)} : {};
    if (password.value) body.password = password.value;
    if (!Object.keys(body).length) {
      message.textContent = "Type the new password.";
      return;
    }
    try {
      await cimi.request("PUT", `${cimi.local(cimi.operation(editing, "edit"))}?$select=${Object.keys(body).join(",")}`,
                         {body});
      if (body.password && editing.name === cimi.user()) await cimi.signIn(editing.name, body.password);  // stay in
      jobs.note(`change user ${nameOf(editing)}`);
      close();
      refresh();
    } catch (err) {
      message.textContent = err.message;
    }
  }}, field("New password", password, "Leave it empty to keep the current one"),
  h("div", {class: "admin-only"}, field("Administrator rights", admin),
    field("Group membership", groups, "Comma-separated; what is shared with a group reaches its members")),
  h("button", {type: "submit"}, "Save"), " ", h("button", {type: "button", onclick: () => close()}, "Cancel"), message);
  const el = h("section", {class: "create-box", hidden: true, "aria-label": "Change a user"}, title, form);

  function close() {
    editing = null;
    el.hidden = true;
  }
  function open(user) {
    editing = user;
    form.reset();
    fill(message);
    fill(title, "Change ", h("span", {class: "name"}, nameOf(user)));
    admin.checked = Boolean(user.admin);
    groups.value = (user.groups || []).join(", ");
    form.querySelector(".admin-only").hidden = !isAdmin();
    el.hidden = false;
    title.focus();
  }
  return {el, open};
}

export function usersView() {
  const name = h("input", {required: true, autocomplete: "off"});
  const password = h("input", {type: "password", required: true, autocomplete: "new-password"});
  const admin = h("input", {type: "checkbox"});
  const groups = h("input", {autocomplete: "off", placeholder: "devs, ops"});
  const create = createBox("Add a user", [field("Name", name), field("Password", password), field("Administrator", admin),
    field("Groups", groups, "Comma-separated; what is shared with a group reaches its members")], async () =>
    jobs.start(`add user ${name.value}`, "POST", await cimi.collection("users"), {body: {
      name: name.value, password: password.value, admin: admin.checked, groups: groupsOf(groups.value)}}), "Add user");
  create.hidden = true;
  const edit = editor(() => list.refresh(), () => !create.hidden);
  const list = listView({title: "Users", source: "users",
    orderings: [{value: "name:asc", label: "Name"}, {value: "created:desc", label: "Newest"}],
    columns: [{label: "Name", value: (u) => h("span", {class: "name"}, nameOf(u))},
              {label: "Role", value: (u) => (u.admin ? "administrator" : "user")},
              {label: "Groups", value: (u) => (u.groups || []).join(", ")},
              {label: "Created", value: (u) => u.created}],
    actions: (u) => [cimi.operation(u, "edit") ? h("button", {type: "button", "aria-label": `change ${nameOf(u)}`,
                                                               onclick: () => edit.open(u)}, "change") : null,
                     ...(u.name === cimi.user() ? [] : operationButtons(u))]});      // the API refuses deleting oneself
  // Only an administrator may add (the collection then advertises `add`).
  cimi.collection("users").then((href) => cimi.query(href, {first: 1, last: 1}))
    .then((doc) => { create.hidden = !cimi.operation(doc, "add"); }, () => {});
  return view([create, edit.el], [list]);
}
