// The job tray: every Job the console starts is followed here until it ends, in an
// aria-live region so that screen readers hear "stop web1: 40%" and "… succeeded".
import * as cimi from "./cimi.js";
import {bytes, h} from "./dom.js";

let tray = null;
let onFinished = () => {};

export function mount(el, finished) {
  tray = el;
  onFinished = finished;
}

function entry(label) {
  const bar = h("progress", {max: 100, value: 0, "aria-label": `${label} progress`});
  const status = h("span", {class: "status"}, "starting");
  const item = h("li", {class: "job"}, h("span", {class: "label"}, label), bar, status);
  tray.prepend(item);
  while (tray.children.length > 6) tray.lastElementChild.remove();
  return {item, bar, status};
}

function finish(view, job) {
  view.item.classList.add(job.state === "SUCCESS" ? "ok" : "failed");
  view.bar.value = 100;
  view.status.textContent = job.state === "SUCCESS" ? "succeeded"
    : `${job.state.toLowerCase()}: ${job.statusMessage || "no reason given"}`;
  const download = downloadOf(job);
  if (download) view.item.append(download);
}

/** A Download button for a finished export Job's OVA (in the tray, and in the Jobs list later), or null. */
export function downloadOf(job) {
  const exported = (job.affectedResources || []).map((r) => r.href).find((href) => /\/exports\/[^/]+$/.test(href));
  return job.state === "SUCCESS" && exported ? downloadButton(exported) : null;
}

function downloadButton(href) {
  const name = decodeURIComponent(href.split("/").pop());
  const button = h("button", {type: "button", class: "download", onclick: async () => {
    button.disabled = true;
    try {
      await cimi.download(href, name, (got, total) => {
        button.textContent = `Downloading ${bytes(got)}${total ? " of " + bytes(total) : ""}`;
      });
      button.textContent = `Downloaded ${name}`;
    } catch (err) {
      button.textContent = `Download failed: ${err.message}`;
    }
    button.disabled = false;
  }}, `Download ${name}`);
  return button;
}

/** Follow a Job (its href from CIMI-Job-URI); resolves with the final Job. */
export async function follow(jobHref, label) {
  const view = entry(label);
  try {
    const job = await cimi.waitJob(jobHref, (j) => {
      view.bar.value = j.progress ?? 0;
      view.status.textContent = `${j.state.toLowerCase()} ${j.progress ?? 0}%${j.statusMessage ? " — " + j.statusMessage : ""}`;
    });
    finish(view, job);
    onFinished(job);
    return job;
  } catch (err) {
    finish(view, {state: "FAILED", statusMessage: err.message});
    throw err;
  }
}

/** Report a request that answered without a Job (done at once) or failed before one. */
export function note(label, error) {
  const view = entry(label);
  finish(view, error ? {state: "FAILED", statusMessage: error.message} : {state: "SUCCESS"});
  onFinished(null);
}

/**
 * Send what a form filled in. A refusal (4xx) throws, so the form shows the server's message and
 * keeps what was typed; an accepted request is followed in the tray while the form is free again.
 */
export async function start(label, method, href, options) {
  const result = await cimi.request(method, href, options);
  if (!result.job) return note(label);
  onFinished(null);                                   // the view shows the Job's transient state (STOPPING) at once
  follow(result.job, label).catch(() => {});          // the tray shows how it ended
}

/** Send a request from a button: a refusal goes to the tray, like the Job's outcome. */
export async function run(label, method, href, options) {
  try {
    await start(label, method, href, options);
  } catch (err) {
    note(label, err);
  }
}
