// A modal <dialog> that asks before something that cannot be taken back (a block, erasing an
// account). The browser keeps focus inside it, Escape cancels, and focus returns to the
// button that opened it. The work runs inside: a failure stays in the dialog, next to the
// fields, and only success closes it.
import { h } from "../dom.js";
import { t } from "../i18n.js";

/**
 * confirmDialog({title, body: [nodes], confirm: "label", danger, work: async (form) => value})
 * resolves to work's value, or null when cancelled. `work` throwing keeps the dialog open
 * (it shows its own error); without `work` the answer is true.
 */
export function confirmDialog({ title, body = [], confirm, danger = false, work = null }) {
  return new Promise((resolve) => {
    const titleId = `dialog-${crypto.randomUUID()}`;
    const ok = h("button", { type: "submit", class: danger ? "danger" : "primary" }, confirm);
    const cancel = h("button", { type: "button", onclick: () => dialog.close() }, t("dialog.cancel"));
    const form = h("form", { method: "dialog", class: "stack" }, body, h("div", { class: "row end" }, cancel, ok));
    const dialog = h("dialog", { "aria-labelledby": titleId, class: "confirm" }, h("h2", { id: titleId }, title), form);
    let result = null;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!work) {
        result = true;
        dialog.close();
        return;
      }
      ok.disabled = true;
      form.setAttribute("aria-busy", "true");
      try {
        result = await work(form);
        dialog.close();
      } catch {
        // `work` has said what went wrong, inside the dialog
      } finally {
        ok.disabled = false;
        form.removeAttribute("aria-busy");
      }
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(result);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
