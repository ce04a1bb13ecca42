// Where I am signed in: my sessions as named devices, this one marked; rename one, or end
// one (that device is signed out at its next request, at every edge).
import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { dateTime, t } from "../../i18n.js";
import { go } from "../../router.js";
import { errorText } from "../../elements/problems.js";
import { announce, busy, field, spinner } from "../../ui.js";

export default async function sessions(root) {
  const list = h("ul", { class: "devices", "aria-labelledby": "sessions-title" });
  const status = h("p", { role: "status", class: "muted" });
  clear(root, h("h2", { id: "sessions-title" }, t("settings.sessions.title")), h("p", { class: "muted" }, t("settings.sessions.detail")), status, list);

  async function load() {
    list.replaceChildren(h("li", {}, spinner()));
    const { items } = await api.get("/v1/me/devices");
    // This device first, then the most recently used.
    items.sort((a, b) => Number(b.current) - Number(a.current) || String(b.last_seen_at).localeCompare(String(a.last_seen_at)));
    clear(list, items.map(item));
  }

  function item(device) {
    const name = h("strong", { class: "device-name" }, userText(device.name));
    const actions = h("div", { class: "row" });
    const li = h(
      "li",
      { class: "device card", "data-device": device.id, "data-current": device.current ? "true" : null },
      h("div", { class: "row" }, name, device.current ? h("span", { class: "chip current" }, t("settings.sessions.current")) : null),
      h(
        "p",
        { class: "muted small" },
        device.name !== device.device ? [userText(device.device), " · "] : null,
        device.ip ? [h("span", { translate: "no" }, device.ip), " · "] : null,
        t("settings.sessions.opened"), " ", h("time", { datetime: device.created_at }, dateTime(device.created_at)), " · ",
        t("settings.sessions.seen"), " ", h("time", { datetime: device.last_seen_at }, dateTime(device.last_seen_at)),
      ),
      actions,
    );
    const rename = h("button", { type: "button", onclick: () => renaming(li, device, actions) }, t("settings.sessions.rename"));
    const end = device.current
      ? h("button", { type: "button", onclick: signOutHere }, t("settings.sessions.sign_out"))
      : h("button", { type: "button", class: "danger", onclick: () => endSession(device, end) }, t("settings.sessions.end"));
    clear(actions, rename, end);
    return li;
  }

  function renaming(li, device, actions) {
    const input = h("input", { type: "text", maxlength: 64, required: true, value: device.name });
    const form = h(
      "form",
      { class: "stack", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field(`device-${device.id}`, "settings.sessions.name", input),
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("settings.save")), h("button", { type: "button", onclick: () => load() }, t("dialog.cancel"))),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, async () => {
        try {
          await api.patch(`/v1/me/devices/${encodeURIComponent(device.id)}`, { name: input.value.trim() });
          await load();
          announce(t("settings.sessions.renamed"));
          list.querySelector(`[data-device="${device.id}"] button`)?.focus();
        } catch (error) {
          const top = form.querySelector(".form-error");
          top.textContent = errorText("settings", error);
          top.hidden = false;
        }
      });
    });
    actions.replaceWith(form);
    input.focus();
    input.select();
  }

  async function endSession(device, button) {
    button.disabled = true;
    try {
      await api.del(`/v1/auth/sessions/${encodeURIComponent(device.id)}`);
      await load();
      status.textContent = t("settings.sessions.ended");
    } catch (error) {
      status.textContent = errorText("settings", error);
      button.disabled = false;
    }
  }

  async function signOutHere() {
    await api.signOut();
    await go("/signin", { replace: true });
  }

  await load();
}
