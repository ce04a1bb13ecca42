// Settings (/settings, /settings/{section}): one tab per section, each its own module under
// screens/settings/ (loaded when opened), so each flow stays small.
import { h, clear } from "../dom.js";
import { t } from "../i18n.js";

export const SECTIONS = ["sessions", "security", "log", "privacy", "appearance", "data"];

export default async function settings(container, { section = "sessions" }) {
  if (!SECTIONS.includes(section)) {
    clear(container, h("h1", {}, t("error.not_found.title")), h("p", {}, t("error.not_found.detail")));
    return;
  }
  const body = h("div", { class: "settings-body" });
  clear(
    container,
    h("h1", {}, t("settings.title")),
    h(
      "nav",
      { class: "tabs", "aria-label": t("settings.sections") },
      SECTIONS.map((name) => h("a", { href: `/settings/${name}`, "aria-current": name === section ? "page" : null }, t(`settings.${name}.tab`))),
    ),
    body,
  );
  const module = await import(`./settings/${section}.js`);
  return module.default(body);
}
