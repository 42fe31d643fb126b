// The other views: volumes, networks, images (upload, register), OVF templates
// (upload an OVA, create the System), systems, keys and jobs. Each is a list plus forms.
import * as cimi from "./cimi.js";
import {bytes, field, fill, h, select} from "./dom.js";
import * as jobs from "./jobs.js";
import {choices, listView, nameOf} from "./list.js";
import {machineLinkLater} from "./machines.js";
import {packageChoices} from "./ovapackage.js";
import {operationButtons} from "./operations.js";
import {SHARED, shareBox} from "./sharing.js";

const BY_NAME = [{value: "name:asc", label: "Name"}, {value: "name:desc", label: "Name, Z to A"},
                 {value: "created:desc", label: "Newest"}];
const NAME = {label: "Name", value: (r) => h("span", {class: "name"}, nameOf(r))};
const STATE = {label: "State", value: (r) => h("span", {class: `state state-${String(r.state).toLowerCase()}`}, r.state)};

/** A form in a <details> box; submit(values of the named controls) runs the request. */
export function createBox(summary, controls, submit, button = summary) {
  const message = h("p", {class: "form-message", role: "status"});
  const form = h("form", {class: "create", onsubmit: async (e) => {
    e.preventDefault();
    message.textContent = "";
    try {
      await submit();
      form.reset();
    } catch (err) {
      message.textContent = err.message;
    }
  }}, controls, h("button", {type: "submit"}, button), message);
  return h("details", {class: "create-box"}, h("summary", {}, summary), form);
}

export function view(parts, lists) {
  return {el: h("div", {}, parts, lists.map((l) => l.el)), refresh: () => lists.forEach((l) => l.refresh())};
}

export function volumesView() {
  const name = h("input", {required: true});
  const size = h("input", {type: "number", min: 1, value: 1, required: true});
  const create = createBox("Create a volume", [field("Name", name), field("Capacity (GiB)", size)], async () =>
    jobs.start(`create volume ${name.value}`, "POST", await cimi.collection("volumes"), {body: {
      resourceURI: cimi.NS + "VolumeCreate", name: name.value,
      volumeTemplate: {volumeConfig: {type: cimi.NS + "mapped", capacity: Number(size.value) * 1024 * 1024}}}}));
  const snapshot = (v) => h("button", {type: "button", "aria-label": `snapshot ${nameOf(v)}`, onclick: async () =>
    jobs.run(`snapshot ${nameOf(v)}`, "POST", await cimi.collection("volumeImages"), {body: {
      resourceURI: cimi.NS + "VolumeImage", name: `${nameOf(v)} snapshot`, imageLocation: v.id}})}, "snapshot");
  const volumes = listView({title: "Volumes", source: "volumes", orderings: BY_NAME,
    columns: [NAME, STATE, {label: "Capacity", value: (v) => bytes((v.capacity || 0) * 1024)},
              {label: "Attached to", value: (v) => (v.attachedTo ? machineLinkLater(v.attachedTo.href) : "")}],
    actions: (v) => [v.state === "AVAILABLE" ? snapshot(v) : null, ...operationButtons(v)]});
  const snapshots = listView({title: "Volume images (snapshots)", source: "volumeImages", orderings: BY_NAME,
    columns: [NAME, STATE], actions: operationButtons});
  return view([h("p", {class: "hint"}, "Attach and detach volumes from a machine's page."), create], [volumes, snapshots]);
}

export function networksView() {
  const name = h("input", {required: true});
  const type = select([{value: "PRIVATE", label: "private (isolated)"}, {value: "PUBLIC", label: "public (NAT)"}]);
  const cidr = h("input", {placeholder: "10.20.30.0/24"});
  const create = createBox("Create a network", [field("Name", name), field("Type", type), field("CIDR", cidr)],
    async () => {
      const config = {networkType: type.value};
      if (cidr.value.trim()) config.cidr = cidr.value.trim();
      return jobs.start(`create network ${name.value}`, "POST", await cimi.collection("networks"), {body: {
        resourceURI: cimi.NS + "NetworkCreate", name: name.value, networkTemplate: {networkConfig: config}}});
    });
  const list = listView({title: "Networks", source: "networks", orderings: BY_NAME,
    columns: [NAME, STATE, {label: "Type", value: (n) => n.networkType}, {label: "CIDR", value: (n) => n.cidr}],
    actions: operationButtons});
  return view([create], [list]);
}

/** The actions of a shareable resource: its operations and, if it may change, a share form. */
const shareable = (r) => [...operationButtons(r), shareBox(r)];

/** A file upload with a byte progress bar; returns [controls, send(href, params, type)]. */
function uploader(label) {
  const file = h("input", {type: "file", required: true});
  const bar = h("progress", {max: 100, value: 0, "aria-label": `${label} upload progress`});
  const text = h("span", {class: "upload-status", "aria-live": "polite"});
  async function send(href, params, type) {
    const f = file.files[0];
    const result = await cimi.upload(href, f, params, type, (loaded, total) => {
      bar.value = total ? Math.round(100 * loaded / total) : 0;
      text.textContent = `${bytes(loaded)} of ${bytes(total)} sent`;
    });
    text.textContent = `${bytes(f.size)} sent`;
    if (result.job) await jobs.follow(result.job, `${label} ${params.name || f.name}`);
    return result;
  }
  return [[field(label, file), h("div", {class: "upload"}, bar, text)], send, file];
}

export function imagesView() {
  const name = h("input", {required: true});
  const [controls, send] = uploader("Image file");
  const upload = createBox("Upload an image", [field("Name", name), controls], async () =>
    send(await cimi.collection("machineImages"), {name: name.value}, "application/octet-stream"), "Upload");
  const regName = h("input", {required: true});
  const location = h("input", {required: true, placeholder: "file:///srv/cimi/import/disk.qcow2"});
  const register = createBox("Register an image", [field("Name", regName),
    field("Location", location, "A file in the server's import directory")], async () =>
    jobs.start(`register ${regName.value}`, "POST", await cimi.collection("machineImages"), {body: {
      resourceURI: cimi.NS + "MachineImage", type: "IMAGE", name: regName.value, imageLocation: location.value}}),
    "Register");
  const list = listView({title: "Machine images", source: "machineImages", orderings: BY_NAME,
    columns: [NAME, STATE, {label: "Type", value: (i) => i.type}, {label: "Description", value: (i) => i.description},
              SHARED],
    actions: shareable});
  return view([upload, register], [list]);
}

export function templatesView() {
  const name = h("input", {required: true});
  const profile = select([], "the package's default");
  const networks = h("div");                                 // one choice per network of the package
  let mapped = [];
  const [controls, send, file] = uploader("OVA package");
  file.addEventListener("change", async () => {             // the package's own choices, read from the file
    const {options, networks: declared} = file.files[0] ? await packageChoices(file.files[0]) : {options: [], networks: []};
    fill(profile, h("option", {value: ""}, options.length ? "the package's default" : "the package's default (no other)"),
      options.map((o) => h("option", {value: o.id},
        `${o.label && o.label !== o.id ? `${o.label} (${o.id})` : o.id}${o.isDefault ? ", the default" : ""}`)));
    const mine = declared.length ? await choices("networks") : [];
    mapped = declared.map((n) => ({name: n.name, control: select(mine, "a new private network made for it")}));
    fill(networks, mapped.map((m, i) => field(`Network for "${m.name}"`, m.control, declared[i].description || null)));
  });
  const upload = createBox("Import an OVF package (OVA)", [field("Name", name), controls,
    field("Deployment option", profile, "The configurations of the package's DeploymentOptionSection"), networks],
  async () => {
    const map = Object.fromEntries(mapped.filter((m) => m.control.value).map((m) => [m.name, {href: m.control.value}]));
    await send(await cimi.collection("systemTemplates"), {name: name.value, profile: profile.value,
      networkMap: Object.keys(map).length ? JSON.stringify(map) : ""}, "application/x-tar");
    fill(networks);
    mapped = [];
  }, "Import");
  const createSystem = (t) => h("button", {type: "button", "aria-label": `create a system from ${nameOf(t)}`,
    onclick: async () => jobs.run(`create system ${nameOf(t)}`, "POST", await cimi.collection("systems"), {body: {
      resourceURI: cimi.NS + "SystemCreate", name: nameOf(t), systemTemplate: {href: t.id}}})}, "create system");
  const templates = listView({title: "System templates", source: "systemTemplates", orderings: BY_NAME,
    columns: [NAME, {label: "Components", value: (t) => (t.componentDescriptors || []).length},
              {label: "Profile", value: (t) => t.properties?.["ovf:profile"]},
              {label: "Signature", value: (t) => t.properties?.["ovf:signature"]}, SHARED],
    actions: (t) => [(t.componentDescriptors || []).length ? createSystem(t) : null, ...shareable(t)]});
  const machineTemplates = listView({title: "Machine templates", source: "machineTemplates", orderings: BY_NAME,
    columns: [NAME, {label: "Description", value: (t) => t.description}, SHARED], actions: shareable});
  return view([upload], [templates, machineTemplates]);
}

export function systemsView() {
  const list = listView({title: "Systems", source: "systems", orderings: BY_NAME, columns: [NAME, STATE],
    actions: operationButtons});
  return view([h("p", {class: "hint"}, "A stopped machine or system offers export; the finished job links the OVA.")],
              [list]);
}

export function keysView() {
  const name = h("input", {required: true});
  const userName = h("input", {autocomplete: "off"});
  const key = h("textarea", {rows: 3, spellcheck: "false", placeholder: "ssh-ed25519 AAAA… user@host"});
  const create = createBox("Add a key", [field("Name", name),
    field("Guest user", userName, "Without one, the key goes to the image's default user"),
    field("SSH public key", key)], async () => {
    const tpl = {publicKey: key.value.trim()};
    if (userName.value.trim()) tpl.userName = userName.value.trim();
    return jobs.start(`add key ${name.value}`, "POST", await cimi.collection("credentials"), {body: {
      resourceURI: cimi.NS + "CredentialCreate", name: name.value, credentialTemplate: tpl}});
  }, "Add key");
  const list = listView({title: "Keys (credentials)", source: "credentials", orderings: BY_NAME,
    columns: [NAME, {label: "Guest user", value: (c) => c.userName}], actions: operationButtons});
  return view([create], [list]);
}

export function jobsView() {
  const list = listView({title: "Jobs", source: "jobs",
    orderings: [{value: "created:desc", label: "Newest"}, {value: "created:asc", label: "Oldest"},
                {value: "state:asc", label: "State"}],
    columns: [{label: "Created", value: (j) => j.created}, {label: "Action", value: (j) => (j.action || "").replace(cimi.ACTION, "")},
              {label: "Target", value: (j) => (j.targetResource?.href || "").split("/").slice(-2).join("/")},
              STATE, {label: "Progress", value: (j) => h("progress", {max: 100, value: j.progress ?? 0,
                "aria-label": `progress ${j.progress ?? 0}%`})},
              {label: "Message", value: (j) => j.statusMessage}],
    actions: (j) => [jobs.downloadOf(j), ...operationButtons(j)]});     // an export's OVA stays downloadable here
  return view([], [list]);
}
