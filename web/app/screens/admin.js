// The admin panel (/admin, /admin/{section}): one tab per section, each section a module of
// its own (screens/admin/), loaded when its tab is first opened.
import { h, clear } from "../dom.js";
import { t } from "../i18n.js";
import { sectionTabs } from "../elements/staff-forms.js";

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
  const tabs = sectionTabs(
    "admin.sections",
    SECTIONS.map((s) => ({ href: s.id === "people" ? "/admin" : `/admin/${s.id}`, key: `admin.tab.${s.id}`, current: s === section })),
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
