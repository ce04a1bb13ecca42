// Modal dialogs, the app's only ones: real <dialog> elements (the browser keeps focus inside
// and the page behind inert, Escape closes), titled, with a close button. They hang off
// <body>, outside the screen: the router closes them when the screen changes, and a
// language switch closes them (their words are the language they were opened in).
//
// openDialog shows content (a list, the composer); formDialog runs a form whose work stays
// inside (a failure is shown next to the fields, only success closes it); confirmDialog
// asks before something that cannot be taken back.
import { h } from "../dom.js";
import { onChange, t } from "../i18n.js";

let serial = 0;

/**
 * openDialog({title, body, className, focus}) -> {dialog, close}. `title` is text (a catalog
 * string); `body` a node or a list of nodes; `focus` the control to start on, or a function
 * that focuses it (else the browser's choice). The dialog is removed from the page on close; focus returns to what
 * had it.
 */
export function openDialog({ title, body, className = "", focus = null }) {
  const id = `dialog-${++serial}`;
  const before = document.activeElement;
  const dialog = h(
    "dialog",
    { class: `dialog ${className}`.trim(), "aria-labelledby": `${id}-title` },
    h(
      "div",
      { class: "dialog-head" },
      h("h2", { id: `${id}-title` }, title),
      h("button", { type: "button", class: "icon-button", "aria-label": t("dialog.close"), onclick: () => dialog.close() }, h("span", { "aria-hidden": "true" }, "✕")),
    ),
    body,
  );
  const unlisten = onChange(() => dialog.close());
  dialog.addEventListener("close", () => {
    unlisten();
    dialog.remove();
    if (before && before.isConnected) before.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  if (typeof focus === "function") focus();
  else if (focus) focus.focus();
  return { dialog, close: () => dialog.close() };
}

/**
 * formDialog({title, body, submit: "label", danger, className, focus, work}) resolves to what
 * `work(form)` answered, or null when the dialog was closed without it. The form starts with
 * a hidden `.form-error` slot for problems that name no field. `work` answering false or
 * throwing keeps the dialog open (it has shown why); without `work` submitting answers true.
 */
export function formDialog({ title, body = [], submit, danger = false, className = "", focus = null, work = null }) {
  return new Promise((resolve) => {
    const ok = h("button", { type: "submit", class: danger ? "danger" : "primary" }, submit);
    const cancel = h("button", { type: "button", onclick: () => close() }, t("dialog.cancel"));
    const form = h("form", { class: "stack", novalidate: true }, h("p", { class: "form-error", role: "alert", hidden: true }), body, h("div", { class: "row end" }, cancel, ok));
    let result = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      ok.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        const answer = work ? await work(form) : true;
        if (answer !== false) {
          result = answer === undefined ? true : answer;
          close();
        }
      } catch {
        // `work` has said what went wrong, inside the dialog
      } finally {
        ok.disabled = false;
        form.removeAttribute("aria-busy");
      }
    });
    const { dialog, close } = openDialog({ title, body: form, className, focus });
    dialog.addEventListener("close", () => resolve(result));
  });
}

/** Ask before something that cannot be undone: resolves true when confirmed (or what
 * `work` answered). `text` is the question's detail; `body` nodes for more. */
export function confirmDialog({ title, text = null, body = [], confirm, danger = true, work = null }) {
  return formDialog({ title, body: [text ? h("p", {}, text) : null, body], submit: confirm, danger, className: "confirm", work });
}

/** Close every open dialog (the screen changing). */
export function closeDialogs() {
  for (const dialog of document.querySelectorAll("body > dialog.dialog")) dialog.close();
}
