// Privacy: whether others see when I am online and when I was last seen (I always see mine).
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { t } from "../../i18n.js";
import { errorText } from "../../elements/problems.js";

export default async function privacy(root) {
  const { show_presence: shown } = await api.get("/v1/me/privacy");
  const status = h("p", { role: "status", class: "muted" });
  const choice = (value, key, hint) =>
    h(
      "div",
      { class: "choice" },
      h("input", { type: "radio", name: "presence", id: `presence-${value}`, value, checked: (value === "shown") === shown, "aria-describedby": `presence-${value}-hint` }),
      h("label", { for: `presence-${value}` }, t(key)),
      h("p", { class: "hint", id: `presence-${value}-hint` }, t(hint)),
    );
  const set = h(
    "fieldset",
    { class: "card stack" },
    h("legend", {}, t("settings.privacy.presence")),
    choice("shown", "settings.privacy.show", "settings.privacy.show_hint"),
    choice("hidden", "settings.privacy.hide", "settings.privacy.hide_hint"),
  );
  set.addEventListener("change", async (event) => {
    status.textContent = "";
    try {
      await api.put("/v1/me/privacy", { show_presence: event.target.value === "shown" });
      status.textContent = t("settings.saved");
    } catch (error) {
      status.textContent = errorText("settings", error);
    }
  });
  clear(root, h("h2", {}, t("settings.privacy.title")), set, status);
}
