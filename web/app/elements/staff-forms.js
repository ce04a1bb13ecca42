// Pieces the admin and moderation screens share: the catalog's words for the API's field
// problems (the API's own messages are English diagnostics, not the reader's language),
// people named by id, and times as the API wants them.
import { h, userText } from "../dom.js";
import { dateTime, t } from "../i18n.js";
import { field, problemText, showProblem } from "../ui.js";

function known(key) {
  return t(key) !== key ? t(key) : null;
}

/** The words for an API problem: this area's catalog first, then the app's. */
export function problemMessage(error) {
  return known(`staff.error.${error.code}`) || problemText(error);
}

/**
 * Show a problem on `form`: each field the API named gets `<prefix>.invalid.<field>` (or a
 * general "not accepted"), the rest goes on top. `ids` maps the API's field names to the
 * ids of the form's controls where they differ (two forms on one page cannot share ids).
 */
export function showFieldProblems(form, error, prefix, ids = {}) {
  const renamed = {
    ...error,
    code: error.code,
    status: error.status,
    errors: (error.errors || []).map((item) => {
      const name = String(item.field || item.pointer || "").replace(/^\/|^\$\./, "").split(".")[0];
      return { ...item, field: ids[name] || name, api: name };
    }),
  };
  showProblem(form, renamed);
  for (const item of renamed.errors) {
    const slot = form.querySelector(`#${CSS.escape(item.field)}-error`);
    if (slot && !slot.hidden) slot.textContent = known(`${prefix}.invalid.${item.api}`) || t("staff.invalid");
  }
  const top = form.querySelector(".form-error");
  if (top && !top.hidden) top.textContent = problemMessage(error);
}

/** A required "why" box (500 characters, kept in the person's security log). */
export function reasonField(id, labelKey = "staff.reason", hintKey = "staff.reason_hint") {
  const input = h("textarea", { required: true, maxlength: 500, rows: 2 });
  return { input, field: field(id, labelKey, input, hintKey) };
}

/** A time as the reader reads it, in <time> (the catalog check leaves formatted times). */
export function when(iso) {
  return iso ? h("time", { datetime: iso }, dateTime(iso)) : null;
}

/** The value of <input type="date"> as the end of that day here, in RFC 3339. */
export function endOfDay(value) {
  return new Date(`${value}T23:59:59`).toISOString();
}

/** The value of <input type="datetime-local"> in RFC 3339 (with its offset, as UTC). */
export function fromLocal(value) {
  return new Date(value).toISOString();
}

/** An id shown as it is: not words, so never translated (shortened, the whole in `title`). */
export function shortId(id) {
  return id ? h("code", { class: "id", translate: "no", title: id }, id.slice(0, 8)) : null;
}

/**
 * Someone a staff screen names: their name, linking to their profile, when the page's
 * `people` (id -> person, as the API lists them) knows them; else their id.
 */
export function personRef(people, id) {
  const person = people && id ? people[id] : null;
  if (!person) return shortId(id);
  const name = userText(person.display_name || `@${person.handle}`);
  const attrs = { class: "person-ref", translate: "no", title: person.handle ? `@${person.handle}` : id };
  return person.handle ? h("a", { ...attrs, href: `/people/${encodeURIComponent(person.handle)}` }, name) : h("span", attrs, name);
}

/**
 * A row of tabs that are links (each section has its URL): `items` are {href, key, current}.
 */
export function sectionTabs(labelKey, items, extraClass = "") {
  return h(
    "nav",
    { class: `tabs ${extraClass}`.trim(), "aria-label": t(labelKey) },
    items.map((item) => h("a", { href: item.href, "aria-current": item.current ? "page" : null }, t(item.key))),
  );
}
