// Buttons for what a resource advertises in its `operations` (DSP0263 4.2.1.2): the
// console offers exactly what the server would accept from this user, no more.
import * as cimi from "./cimi.js";
import {h} from "./dom.js";
import * as jobs from "./jobs.js";
import {nameOf} from "./list.js";

const HIDDEN = new Set(["edit", "console", "import"]);

function actionName(rel) {
  if (rel.startsWith(cimi.ACTION)) return rel.slice(cimi.ACTION.length);
  return rel.split(/[:/]/).pop();
}

/** The body an action's href expects: an Action, except capture which adds a MachineImage. */
function actionBody(resource, name, force) {
  if (name === "capture") {
    return {resourceURI: cimi.NS + "MachineImage", type: "IMAGE", imageLocation: resource.id,
            name: `${nameOf(resource)} image`};
  }
  return {resourceURI: cimi.NS + "Action", action: cimi.ACTION + name, ...(force ? {force: true} : {})};
}

// Actions with a forced variant (DSP0263 Action `force`): a guest that ignores the ACPI request
// would otherwise keep the Machine STOPPING until the server's stop timeout.
const FORCEABLE = new Set(["stop", "restart"]);

/** A button that asks once more (its label changes) before it deletes or detaches. */
export function deleteButton(label, onConfirmed, verb = "Delete") {
  let armed = null;
  const idle = () => {
    button.textContent = verb;
    button.setAttribute("aria-label", `${verb} ${label}`);
  };
  const button = h("button", {type: "button", class: "danger", onclick: () => {
    if (!armed) {
      button.textContent = `Confirm ${verb.toLowerCase()}`;
      button.setAttribute("aria-label", `Confirm: ${verb.toLowerCase()} ${label}`);
      armed = setTimeout(() => { armed = null; idle(); }, 5000);
      return;
    }
    clearTimeout(armed);
    button.disabled = true;
    onConfirmed();
  }});
  idle();
  return button;
}

/** Buttons for every advertised operation of `resource`. */
export function operationButtons(resource) {
  const label = nameOf(resource);
  return (resource.operations || []).filter((op) => !HIDDEN.has(actionName(op.rel))).map((op) => {
    if (op.rel === "delete") {
      return deleteButton(label, () => jobs.run(`delete ${label}`, "DELETE", op.href));
    }
    const name = actionName(op.rel);
    const button = (force) => h("button", {type: "button", "aria-label": `${force ? "force " : ""}${name} ${label}`,
      dataset: {action: force ? `force-${name}` : name}, onclick: (e) => {
        e.currentTarget.disabled = true;
        jobs.run(`${force ? "force " : ""}${name} ${label}`, "POST", op.href, {body: actionBody(resource, name, force)});
      }}, force ? `force ${name}` : name);
    return FORCEABLE.has(name) && resource.resourceURI === cimi.NS + "Machine" ? [button(false), button(true)]
      : button(false);
  }).flat();
}
