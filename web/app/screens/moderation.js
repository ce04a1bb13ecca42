// The moderators' screen: the queue (/moderation, /moderation/queue), one case
// (/moderation/cases/{case_id}), appeals (/moderation/appeals) and, for admins, the log of
// every decision (/moderation/log). Each part is a module of its own (screens/moderation/).
import * as api from "../api.js";
import { h, clear } from "../dom.js";
import { t } from "../i18n.js";
import { sectionTabs } from "../elements/staff-forms.js";

const SECTIONS = [
  { id: "queue", load: () => import("./moderation/queue.js") },
  { id: "appeals", load: () => import("./moderation/appeals.js") },
  { id: "log", load: () => import("./moderation/log.js"), admins: true },
];

export default async function moderation(container, params) {
  const admin = (api.session()?.roles || []).includes("admin");
  const shown = SECTIONS.filter((s) => !s.admins || admin);
  const inCase = Boolean(params.case_id);
  const section = shown.find((s) => s.id === (params.section || "queue"));
  const tabs = sectionTabs(
    "moderation.sections",
    shown.map((s) => ({ href: s.id === "queue" ? "/moderation" : `/moderation/${s.id}`, key: `moderation.tab.${s.id}`, current: s === section })),
  );
  const body = h("div", { class: "moderation-section" });
  if (inCase) {
    // A case is a page of its own, with its own heading and a way back to the queue.
    clear(container, body);
    const module = await import("./moderation/case.js");
    return module.default(body, params);
  }
  clear(container, h("h1", {}, t("moderation.title")), tabs, body);
  if (!section) {
    body.append(h("p", {}, t("error.not_found.detail")));
    return undefined;
  }
  const module = await section.load();
  return module.default(body, params);
}
