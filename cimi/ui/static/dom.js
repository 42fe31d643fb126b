// Building DOM nodes. Text always goes in as text nodes: nothing here parses HTML,
// so a server string can never become markup.

/** h("button", {type: "button", onclick: fn}, "Stop") → an element. Children: nodes, strings, arrays, null. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(el.dataset, value);
    else if (name === "value" && "defaultValue" in el) el.defaultValue = String(value);   // what form.reset() restores
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let unique = 0;
/** A labelled form field: [label, control]; the control gets an id. */
export function field(label, control, hint) {
  control.id = control.id || `f${++unique}`;
  const parts = [h("label", {for: control.id}, label), control];
  if (hint) {
    const hintEl = h("small", {id: `${control.id}-hint`, class: "hint"}, hint);
    control.setAttribute("aria-describedby", hintEl.id);
    parts.push(hintEl);
  }
  return h("div", {class: "field"}, parts);
}

/** A <select> of options [{value, label}], with an optional first empty choice. */
export function select(options, empty) {
  const el = h("select");
  if (empty !== undefined) el.append(h("option", {value: ""}, empty));
  for (const o of options) el.append(h("option", {value: o.value}, o.label));
  return el;
}

/** A human size from bytes. */
export function bytes(n) {
  if (n === undefined || n === null || n === "") return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}
