// The console's shell: sign-in, navigation (#/view), the job tray.
import * as cimi from "./cimi.js";
import {field, fill, h} from "./dom.js";
import {eventsView} from "./events.js";
import * as jobs from "./jobs.js";
import {machineView, machinesView} from "./machines.js";
import {quotasView} from "./quotas.js";
import {imagesView, jobsView, keysView, networksView, systemsView, templatesView, volumesView} from "./resources.js";
import {usageView} from "./usage.js";
import {usersView} from "./users.js";

const VIEWS = [
  ["machines", "Machines", machinesView],
  ["volumes", "Volumes", volumesView],
  ["networks", "Networks", networksView],
  ["images", "Images", imagesView],
  ["templates", "OVF templates", templatesView],
  ["systems", "Systems", systemsView],
  ["keys", "Keys", keysView],
  ["jobs", "Jobs", jobsView],
  ["events", "Events", eventsView],
  ["usage", "Usage", usageView],
  ["quotas", "Quotas", quotasView],
  ["users", "Users", usersView],
];

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
let current = null;

function signInView(message) {
  const user = h("input", {autocomplete: "username", required: true});
  const password = h("input", {type: "password", autocomplete: "current-password", required: true});
  const error = h("p", {class: "error", role: "alert"}, message || "");
  const form = h("form", {class: "signin", onsubmit: async (e) => {
    e.preventDefault();
    error.textContent = "";
    try {
      await cimi.signIn(user.value, password.value);
      location.hash = location.hash && location.hash !== "#/signin" ? location.hash : "#/machines";
      route();
    } catch (err) {
      error.textContent = err.status === 401 ? "Wrong user name or password." : err.message;
      password.select();
    }
  }}, h("h2", {tabindex: -1}, "Sign in"),
    h("p", {}, "Your credentials stay in this tab only and go to this server's CIMI API."),
    field("User name", user), field("Password", password), h("button", {type: "submit"}, "Sign in"), error);
  fill(main, form);
  nav.hidden = true;
  fill(who);
  user.focus();
}

function shell() {
  nav.hidden = false;
  fill(who, "Signed in as ", h("strong", {}, cimi.user()), " ",
    h("button", {type: "button", onclick: () => { cimi.signOut(); signInView("Signed out."); }}, "Sign out"));
}

function route() {
  current?.leave?.();
  current = null;
  if (!cimi.user()) return signInView();
  shell();
  const [, name, arg] = location.hash.match(/^#\/([a-z]+)(?:\/(.*))?$/) || [];
  let title;
  if (name === "machine" && arg) {
    title = "Machine";
    current = machineView(decodeURIComponent(arg));
  } else {
    const [key, label, make] = VIEWS.find(([k]) => k === name) || VIEWS[0];
    title = label;
    current = make(key === name && arg ? decodeURIComponent(arg) : undefined);   // e.g. #/events/<log>
    if (key !== name) history.replaceState(null, "", `#/${key}`);
  }
  for (const a of nav.querySelectorAll("a")) {
    const on = a.getAttribute("href") === `#/${name === "machine" ? "machines" : name}`;
    if (on) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  document.title = `${title} · darn simple cloud`;
  const heading = h("h2", {tabindex: -1}, title);
  fill(main, heading, current.el);
  heading.focus();
}

fill(nav, h("ul", {}, VIEWS.map(([key, label]) => h("li", {}, h("a", {href: `#/${key}`}, label)))));
jobs.mount(document.getElementById("jobs"), () => current?.refresh?.());
cimi.whenSignedOut(signInView);
document.querySelector(".skip").addEventListener("click", (e) => {   // the hash is the router's
  e.preventDefault();
  main.focus();
});
window.addEventListener("hashchange", route);
route();
