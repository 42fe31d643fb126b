// Machines: the list (state, addresses, actions), the create form, and one Machine's
// page with its interfaces, volumes and the console log.
import * as cimi from "./cimi.js";
import {bytes, field, fill, h, select} from "./dom.js";
import {eventsHref} from "./events.js";
import * as jobs from "./jobs.js";
import {choices, listView, nameOf} from "./list.js";
import {deleteButton, operationButtons} from "./operations.js";

const CONSOLE_REL = "urn:darn-simple-cloud:cimi:console";
// Configurations smallest first, with their size: the first choice is the cheapest, not "large".
const SMALLEST_FIRST = {orderby: "cpu:asc,memory:asc",
                        label: (c) => `${nameOf(c)} (${c.cpu} vCPU, ${bytes((c.memory || 0) * 1024)})`};
const ADDRESS_POLL = 3000;          // ms between looks for a started Machine's first address

const pageOf = (href) => `#/machine/${encodeURIComponent(cimi.local(href))}`;

export function machineLink(machine) {
  return h("a", {href: pageOf(machine.id)}, nameOf(machine));
}

/** A link to the Machine at href, named when it arrives (a Volume's attachedTo has only the href). */
export function machineLinkLater(href) {
  return h("a", {href: pageOf(href)}, nameLater(href));
}

/**
 * The IPs of a Machine's DHCP leases (ADDRESSES: Address.resource is the Machine). A started
 * Machine's lease comes seconds after its guest boots: while it has none, look again while shown.
 */
function addresses(machine) {
  const out = h("span", {class: "addresses"}, "…");
  async function look() {
    const doc = await cimi.query(await cimi.collection("addresses"),
                                 {filter: `resource/href=${cimi.literal(machine.id)}`, orderby: "ip:asc"});
    const ips = cimi.items(doc).map((a) => a.ip).filter(Boolean);
    out.textContent = ips.join(", ") || "—";
    if (!ips.length && machine.state === "STARTED") {
      setTimeout(() => { if (out.isConnected) look().catch(() => {}); }, ADDRESS_POLL);
    }
  }
  look().catch(() => { out.textContent = "—"; });
  return out;
}

/** The name of a referenced resource, filled in when it arrives. */
function nameLater(href) {
  const out = h("span", {class: "name"}, href.split("/").pop());
  cimi.get(href).then((r) => { out.textContent = nameOf(r); }, () => {});
  return out;
}

export function machinesView() {
  const list = listView({
    title: "Machines", source: "machines",
    orderings: [{value: "name:asc", label: "Name"}, {value: "created:desc", label: "Newest"},
                {value: "state:asc", label: "State"}],
    columns: [
      {label: "Name", value: machineLink},
      {label: "State", value: (m) => h("span", {class: `state state-${String(m.state).toLowerCase()}`}, m.state)},
      {label: "CPU", value: (m) => m.cpu},
      {label: "Memory", value: (m) => bytes((m.memory || 0) * 1024)},
      {label: "Addresses", value: addresses},
    ],
    actions: operationButtons,
  });
  return {el: h("div", {}, createForm(), list.el), refresh: list.refresh};
}

function createForm() {
  const name = h("input", {required: true, autocomplete: "off"});
  const from = select([{value: "config", label: "a configuration and an image"}, {value: "template", label: "a template"}]);
  const template = h("select");
  const config = h("select");
  const image = h("select");
  const network = h("select");
  const credential = h("select");
  const userData = h("textarea", {rows: 4, spellcheck: "false"});
  const byTemplate = h("div", {hidden: true}, field("Template", template));
  const byValue = h("div", {}, field("Configuration", config), field("Image", image));
  from.addEventListener("change", () => {
    byTemplate.hidden = from.value !== "template";
    byValue.hidden = from.value === "template";
  });
  const message = h("p", {class: "form-message", role: "status"});
  const form = h("form", {class: "create", onsubmit: async (e) => {
    e.preventDefault();
    const tpl = from.value === "template" ? {href: template.value}
      : {machineConfig: {href: config.value}, machineImage: {href: image.value}};
    if (network.value) tpl.networkInterfaces = [{network: {href: network.value}}];
    if (credential.value) tpl.credential = {href: credential.value};
    if (userData.value.trim()) tpl.userData = cimi.base64(userData.value);
    message.textContent = "";
    try {
      await jobs.start(`create ${name.value}`, "POST", await cimi.collection("machines"),
                       {body: {resourceURI: cimi.NS + "MachineCreate", name: name.value, machineTemplate: tpl}});
    } catch (err) {
      message.textContent = err.message;        // refused (quota, bad input): say why, keep what was typed
      return;
    }
    form.reset();
    byTemplate.hidden = true;
    byValue.hidden = false;
    form.parentElement.open = false;            // the job tray follows it; the list shows it
  }},
    field("Name", name), field("Create from", from), byTemplate, byValue,
    field("Network", network, "Without one, the machine joins the cloud's default network"),
    field("Key (credential)", credential), field("User data", userData, "cloud-init user-data, sent Base64-encoded"),
    h("button", {type: "submit"}, "Create machine"), message);
  const details = h("details", {class: "create-box"}, h("summary", {}, "Create a machine"), form);
  details.addEventListener("toggle", async () => {
    if (!details.open) return;
    try {
      const [t, c, i, n, k] = await Promise.all([choices("machineTemplates"), choices("machineConfigs", "", undefined, SMALLEST_FIRST),
        choices("machineImages", "state='AVAILABLE'"), choices("networks"), choices("credentials")]);
      fill(template, t.map((o) => h("option", {value: o.value}, o.label)));
      fill(config, c.map((o) => h("option", {value: o.value}, o.label)));
      fill(image, i.map((o) => h("option", {value: o.value}, o.label)));
      fill(network, h("option", {value: ""}, "default network"), n.map((o) => h("option", {value: o.value}, o.label)));
      fill(credential, h("option", {value: ""}, "none"), k.map((o) => h("option", {value: o.value}, o.label)));
    } catch (err) {
      message.textContent = err.message;
    }
  });
  return details;
}

/** One Machine: attributes, actions, interfaces with addresses, volumes, console. */
export function machineView(path) {
  const el = h("div", {class: "machine"});
  const consoleBox = consoleView();
  async function refresh() {
    try {
      const m = await cimi.get(path);
      const [nics, volumes] = await Promise.all([cimi.get(m.networkInterfaces.href), cimi.get(m.volumes.href)]);
      fill(el,
        h("h3", {class: "name"}, nameOf(m)),
        h("dl", {class: "attributes"}, ["state", "cpu", "memory", "cpuArch", "host", "created", "updated", "description"]
          .filter((k) => m[k] !== undefined)
          .map((k) => [h("dt", {}, k), h("dd", {class: k === "state" ? `state state-${String(m.state).toLowerCase()}` : null},
            k === "memory" ? bytes(m.memory * 1024) : m[k])])),
        h("div", {class: "actions"}, operationButtons(m)),
        m.eventLog ? h("p", {}, h("a", {href: eventsHref(m.eventLog.href)}, "Events")) : null,
        h("h4", {}, "Network interfaces"),
        h("ul", {}, cimi.items(nics).length ? null : h("li", {}, "none"), cimi.items(nics).map((nic) => h("li", {}, nic.network?.href ? nameLater(nic.network.href) : "",
          nic.macAddress ? ` MAC ${nic.macAddress} ` : " ", addresses(m)))),
        volumesPanel(m, cimi.items(volumes)));
      consoleBox.setHref(cimi.operation(m, CONSOLE_REL) || `${cimi.local(m.id)}/console`);
    } catch (err) {
      fill(el, h("p", {class: "error"}, err.message));
    }
  }
  refresh();
  return {el: h("div", {}, el, consoleBox.el), refresh, leave: consoleBox.stop};
}

function volumesPanel(machine, attached) {
  const volume = h("select");
  // an attached Volume is AVAILABLE too (CIMI has no in-use state); its attachedTo says it is taken
  choices("volumes", "state='AVAILABLE'", (v) => !v.attachedTo)
    .then((opts) => fill(volume, opts.map((o) => h("option", {value: o.value}, o.label))));
  const attach = h("form", {class: "inline", onsubmit: (e) => {
    e.preventDefault();
    if (!volume.value) return;
    jobs.run(`attach ${volume.selectedOptions[0].textContent} to ${nameOf(machine)}`, "POST", machine.volumes.href,
             {body: {resourceURI: cimi.NS + "MachineVolume", volume: {href: volume.value}}});
  }}, field("Volume to attach", volume), h("button", {type: "submit"}, "Attach"));
  return h("section", {"aria-label": "Volumes"}, h("h4", {}, "Volumes"),
    h("ul", {}, attached.length ? null : h("li", {}, "none attached"), attached.map((mv) => h("li", {}, nameLater(mv.volume.href), " at ", mv.initialLocation || "?", " ",
      cimi.operation(mv, "delete") ? deleteButton(mv.initialLocation,
        () => jobs.run(`detach ${mv.initialLocation} from ${nameOf(machine)}`, "DELETE", mv.id), "Detach") : null))),
    attach);
}

/** The serial console log (CONSOLE: GET <machine>/console?tail=N), polled while shown. */
function consoleView() {
  let href = null;
  let timer = null;
  const tail = h("input", {type: "number", min: 1, max: 100000, value: 200});
  const follow = h("input", {type: "checkbox", checked: true});
  const out = h("pre", {class: "console", tabindex: 0, "aria-label": "Console log"});
  const status = h("p", {class: "console-status", role: "status"});
  async function poll() {
    clearTimeout(timer);
    if (!href) return;
    try {
      const {text} = await cimi.request("GET", `${href}?tail=${Number(tail.value) || 200}`, {accept: "text/plain, application/json;q=0.1", raw: true});
      const atBottom = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
      out.textContent = text;
      if (atBottom) out.scrollTop = out.scrollHeight;
      status.textContent = text ? "" : "The console log is empty (the machine has not written to it yet).";
    } catch (err) {
      status.textContent = err.status === 404 ? "This server keeps no console log for this machine (yet)."
        : `Console: ${err.message}`;
    }
    if (follow.checked && out.isConnected) timer = setTimeout(poll, 2000);
  }
  follow.addEventListener("change", poll);
  const el = h("section", {class: "console-box", "aria-label": "Console"}, h("h4", {}, "Console log"),
    h("div", {class: "inline"}, field("Lines", tail), h("label", {}, follow, " follow"),
      h("button", {type: "button", onclick: poll}, "Refresh")), status, out);
  return {el, setHref(value) { if (href !== value) { href = value; poll(); } }, stop() { clearTimeout(timer); }};
}
