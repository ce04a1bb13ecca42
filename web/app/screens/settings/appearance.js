// Appearance: the language (saved on my profile, so every device of mine uses it) and the
// theme (this browser's: light, dark or the system's).
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import * as i18n from "../../i18n.js";
import { t } from "../../i18n.js";
import * as theme from "../../theme.js";
import { field, toast } from "../../ui.js";

export default async function appearance(root) {
  const language = h("select", {}, i18n.LANGUAGES.map((lang) => h("option", { value: lang, lang, translate: "no" }, t(`settings.language_name.${lang}`))));
  language.value = i18n.current();
  language.addEventListener("change", async () => {
    const chosen = language.value;
    try {
      await api.patch("/v1/me", { locale: chosen });
      const who = api.session();
      if (who && who.profile) who.profile.locale = chosen;
    } catch {
      toast(t("settings.appearance.locale_not_saved"), { error: true });
    }
    // Redraws the whole app, this screen included, in the chosen language.
    await i18n.choose(chosen);
  });

  const status = h("p", { role: "status", class: "muted" });
  const themes = h(
    "fieldset",
    { class: "stack" },
    h("legend", {}, t("settings.appearance.theme")),
    theme.THEMES.map((name) =>
      h("div", { class: "choice" },
        h("input", { type: "radio", name: "theme", id: `theme-${name}`, value: name, checked: theme.current() === name }),
        h("label", { for: `theme-${name}` }, t(`settings.appearance.theme_${name}`))),
    ),
  );
  themes.addEventListener("change", (event) => {
    theme.choose(event.target.value);
    // The top bar's toggle shows the theme now in force.
    document.getElementById("theme-toggle")?.setAttribute("aria-pressed", String(theme.shown() === "dark"));
    status.textContent = t("settings.saved");
  });

  clear(
    root,
    h("h2", {}, t("settings.appearance.title")),
    h("div", { class: "card stack" }, field("language", "settings.appearance.language", language, "settings.appearance.language_hint"), themes, status),
  );
}
