// One list component for every collection: the server filters, sorts and pages
// (CIMI $filter, $orderby, $first/$last); the page only renders what comes back.
import * as cimi from "./cimi.js";
import {field, fill, h, select} from "./dom.js";

/**
 * A filterable, sortable, paged table of a collection.
 *   title: heading; source: a CloudEntryPoint key or () => href;
 *   columns: [{label, value: item => string | Node}]; orderings: [{value: "name:asc", label}];
 *   actions: item => [nodes] (a last column), pageSize;
 *   arrange: (items, orderby) => items, to order ties the server leaves in its own order;
 *   example: the filter box's placeholder (a State column: a state test).
 * Returns {el, refresh}.
 */
export function listView({title, source, columns, orderings, actions, pageSize = 20, filter = "", arrange,
                          example = columns.some((c) => c.label === "State") ? "state='STARTED' and name!='x'"
                            : "name!='x'"}) {
  const state = {first: 1, count: 0};
  const filterInput = h("input", {type: "search", value: filter, placeholder: example,
                                  spellcheck: "false", autocomplete: "off"});
  const order = select(orderings);
  const size = select([10, 20, 50, 100].map((n) => ({value: n, label: String(n)})));
  size.value = String(pageSize);
  const status = h("p", {class: "list-status", role: "status"});
  const body = h("tbody");
  const heads = [...columns.map((c) => h("th", {scope: "col"}, c.label)), actions ? h("th", {scope: "col"}, "Actions") : null];
  const tableEl = h("table", {}, h("caption", {class: "visually-hidden"}, title), h("thead", {}, h("tr", {}, heads)), body);
  const prev = h("button", {type: "button", onclick: () => page(-1)}, "Previous page");
  const next = h("button", {type: "button", onclick: () => page(1)}, "Next page");
  const form = h("form", {class: "query", onsubmit: (e) => { e.preventDefault(); state.first = 1; refresh(); }},
    field("Filter ($filter)", filterInput, "A CIMI filter, evaluated by the server"),
    field("Sort by", order), field("Per page", size),
    h("button", {type: "submit"}, "Apply"));
  const el = h("section", {class: "list", "aria-label": title},
    h("h3", {}, title), form, h("div", {class: "table-wrap"}, tableEl), h("div", {class: "pager"}, prev, status, next));

  function page(delta) {
    state.first = Math.max(1, state.first + delta * Number(size.value));
    refresh();
  }

  async function refresh() {
    const n = Number(size.value);
    try {
      const href = typeof source === "function" ? await source() : await cimi.collection(source);
      const doc = await cimi.query(href, {filter: filterInput.value.trim(), orderby: order.value,
                                          first: state.first, last: state.first + n - 1});
      const rows = arrange ? arrange(cimi.items(doc), order.value) : cimi.items(doc);
      state.count = doc.count ?? rows.length;
      fill(body, rows.length ? rows.map((item) => h("tr", {},
        columns.map((c) => h("td", {"data-label": c.label}, c.value(item) ?? "")),
        actions ? h("td", {class: "actions", "data-label": "Actions"}, actions(item)) : null))
        : h("tr", {}, h("td", {colspan: columns.length + (actions ? 1 : 0)}, "Nothing here.")));
      status.textContent = rows.length
        ? `${state.first}–${state.first + rows.length - 1} of ${state.count}` : `0 of ${state.count}`;
      prev.disabled = state.first <= 1;
      next.disabled = state.first + rows.length > state.count || rows.length < n;
    } catch (err) {
      fill(body, h("tr", {}, h("td", {colspan: columns.length + 1, class: "error"}, err.message)));
      status.textContent = "";
    }
  }

  refresh();
  return {el, refresh};
}

/** The name of a resource, or the last part of its id. */
export function nameOf(resource) {
  return resource.name || (resource.id || "").split("/").pop();
}

/** Options for a <select> from a collection (first 200 by name), those `keep` accepts. */
export async function choices(key, filter, keep = () => true, {orderby = "name:asc", label = nameOf} = {}) {
  const doc = await cimi.query(await cimi.collection(key), {orderby, first: 1, last: 200, filter});
  return cimi.items(doc).filter(keep).map((r) => ({value: r.id, label: label(r)}));
}
