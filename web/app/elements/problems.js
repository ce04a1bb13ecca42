// API problems in the catalog's words, on the fields they are about. The API's own messages
// are English and for developers (`errors[].message`); people read `<area>.invalid.<field>`
// for a field the API refused and `<area>.error.<code>` for a known problem code.
import { t } from "../i18n.js";
import { problemText } from "../ui.js";

function known(key) {
  const text = t(key);
  return text === key ? null : text;
}

/** The words for `error` in `area` (its code's, else the app's general ones). */
export function errorText(area, error) {
  return known(`${area}.error.${error.code}`) || problemText(error);
}

/**
 * Show `error` on `form` (fields made with ui.field, ids = the API's field names): each
 * field the problem names, or that `byCode` names for its code (a conflict has no field
 * list: `{"handle-taken": "handle"}`), gets its message; anything else goes on the form's
 * `.form-error`. Focus goes to the first field in error.
 */
export function placeProblem(form, error, { area, byCode = {} }) {
  for (const el of form.querySelectorAll(".field .error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const named = (error.errors || []).map((e) => String(e.field || "").replace(/^\$\.?/, "").split(".")[0]);
  if (byCode[error.code]) named.push(byCode[error.code]);
  let first = null;
  for (const name of new Set(named)) {
    const control = name && form.querySelector(`#${CSS.escape(name)}`);
    const slot = name && form.querySelector(`#${CSS.escape(name)}-error`);
    if (!control || !slot) continue;
    slot.textContent = known(`${area}.error.${error.code}`) || known(`${area}.invalid.${name}`) || problemText(error);
    slot.hidden = false;
    control.setAttribute("aria-invalid", "true");
    first = first || control;
  }
  const top = form.querySelector(".form-error");
  if (top) {
    top.textContent = first ? "" : errorText(area, error);
    top.hidden = !!first;
  }
  if (first) first.focus();
}

/** Clear what placeProblem showed. */
export function clearProblem(form) {
  for (const el of form.querySelectorAll(".field .error, .form-error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}
