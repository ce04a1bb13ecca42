// The admin panel (/admin, /admin/{section}): one tab per section, each section a module of
// its own (screens/admin/), loaded when its tab is first opened.
import { h, clear } from "../dom.js";
import { t } from "../i18n.js";

const SECTIONS = [
  { id: "people", load: () => import("./admin/people.js") },
  { id: "categories", load: () => import("./admin/categories.js") },
  { id: "word-filters", load: () => import("./admin/word-filters.js") },
  { id: "stats", load: () => import("./admin/stats.js") },
  { id: "station", load: () => import("./admin/station.js") },
];

export default async function admin(container, params) {
  const chosen = params.section || "people";
  const section = SECTIONS.find((s) => s.id === chosen);
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": t("admin.sections") },
    SECTIONS.map((s) =>
      h("a", { href: s.id === "people" ? "/admin" : `/admin/${s.id}`, "aria-current": s === section ? "page" : null }, t(`admin.tab.${s.id}`)),
    ),
  );
  const body = h("div", { class: "admin-section" });
  clear(container, h("h1", {}, t("admin.title")), tabs, body);
  if (!section) {
    body.append(h("p", {}, t("error.not_found.detail")));
    return undefined;
  }
  const module = await section.load();
  return module.default(body, params);
}
