// Modal dialogs as real <dialog> elements (focus kept inside, Escape closes, the page behind
// inert): a titled dialog for forms and lists, and a confirmation that answers true/false.
// They hang off <body>, outside the screen: a screen that opens them closes them when it
// goes (closeDialogs in its cleanup), and a language switch closes them.
import { h } from "../dom.js";
import { onChange, t } from "../i18n.js";

let serial = 0;

/**
 * openDialog({title, body, className}) -> {dialog, close}. `title` is text (a catalog
 * string); `body` a node or a list of nodes. The dialog is removed from the page on close;
 * focus returns to what had it.
 */
export function openDialog({ title, body, className = "" }) {
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
  // Its words are the language's it was opened in: a switch closes it (the screen behind
  // is drawn again in the new one).
  const unlisten = onChange(() => dialog.close());
  dialog.addEventListener("close", () => {
    unlisten();
    dialog.remove();
    if (before && before.isConnected) before.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return { dialog, close: () => dialog.close() };
}

/** Ask before something that cannot be undone: resolves true when confirmed. */
export function confirmDialog({ title, text, confirm, danger = true }) {
  return new Promise((resolve) => {
    let answer = false;
    const yes = h("button", { type: "button", class: danger ? "danger" : "primary", onclick: () => { answer = true; close(); } }, confirm);
    const { dialog, close } = openDialog({
      title,
      body: [
        text ? h("p", {}, text) : null,
        h("div", { class: "row end" }, h("button", { type: "button", onclick: () => close() }, t("dialog.cancel")), yes),
      ],
    });
    dialog.addEventListener("close", () => resolve(answer));
    yes.focus();
  });
}

/** Close every open dialog (a screen leaving, the language changing). */
export function closeDialogs() {
  for (const dialog of document.querySelectorAll("body > dialog.dialog")) dialog.close();
}
