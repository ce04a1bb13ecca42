// Small shared pieces of the interface: toasts, the polite live region, form helpers.

import { h, clear } from "./dom.js";
import { t } from "./i18n.js";

/** A short message for a moment; errors are announced assertively. */
export function toast(text, { error = false } = {}) {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast${error ? " error" : ""}`, role: error ? "alert" : "status" }, text);
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

/** Said by screen readers without moving focus (new messages, new posts). */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (region) {
    region.textContent = "";
    setTimeout(() => {
      region.textContent = text;
    }, 50);
  }
}

/** The catalog's words for an API problem. */
export function problemText(error) {
  const key = `error.code.${error.code}`;
  const known = t(key);
  if (known !== key) return known;
  if (error.status === 0) return t("error.offline");
  return t("error.generic.detail");
}

/** A labelled field: label, control, hint and an error slot tied by aria-describedby. */
export function field(id, labelKey, control, hintKey) {
  control.id = id;
  const hint = hintKey ? h("p", { class: "hint", id: `${id}-hint` }, t(hintKey)) : null;
  const error = h("p", { class: "error", id: `${id}-error`, hidden: true });
  control.setAttribute("aria-describedby", [hint && `${id}-hint`, `${id}-error`].filter(Boolean).join(" "));
  return h("div", { class: "field" }, h("label", { for: id }, t(labelKey)), control, hint, error);
}

/** Show problems on a form: fields the API named get their message, the rest goes on top. */
export function showProblem(form, error) {
  for (const el of form.querySelectorAll(".error")) {
    el.hidden = true;
    el.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  let placed = false;
  for (const item of error.errors || []) {
    const name = String(item.field || item.pointer || "").replace(/^\/|^\$\./, "").replace(/\//g, ".");
    const slot = form.querySelector(`#${CSS.escape(name)}-error`);
    if (slot) {
      slot.textContent = item.detail || item.message || problemText(error);
      slot.hidden = false;
      form.querySelector(`#${CSS.escape(name)}`)?.setAttribute("aria-invalid", "true");
      placed = true;
    }
  }
  const top = form.querySelector(".form-error");
  if (top) {
    top.textContent = placed ? "" : problemText(error);
    top.hidden = placed;
  }
}

/** Disable a form's buttons while `work` runs. */
export async function busy(form, work) {
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => (b.disabled = true));
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    form.removeAttribute("aria-busy");
  }
}

export function empty(textKey) {
  return h("p", { class: "empty" }, t(textKey));
}

export function spinner() {
  return h("span", { class: "spinner", role: "progressbar", "aria-label": t("common.loading") });
}

export { clear };
