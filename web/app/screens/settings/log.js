// My security log: sign-ins, failed attempts, ended sessions, password and second-factor
// changes, roles and suspensions, newest first, a page at a time.
import * as api from "../../api.js";
import { ApiError } from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { dateTime, t } from "../../i18n.js";
import { errorText } from "../../elements/problems.js";
import { empty, spinner } from "../../ui.js";

/** The catalog's name for an entry (an ended session says why); a kind this app does not
 * know yet, as it is. */
function kindText(kind, detail) {
  for (const key of [`settings.log.ended.${detail.reason}`, `settings.log.kind.${kind}`]) {
    if (key.startsWith("settings.log.ended.") && kind !== "session-ended") continue;
    const text = t(key);
    if (text !== key) return text;
  }
  return h("span", { translate: "no" }, kind);
}

function entry(item) {
  const d = item.detail || {};
  return h(
    "li",
    { class: "log-entry" },
    h("span", { class: "log-kind" }, kindText(item.kind, d)),
    h("time", { datetime: item.at, class: "muted small" }, dateTime(item.at)),
    d.device ? userText(d.device, "span", { class: "muted small" }) : null,
    d.role ? h("span", { class: "muted small", translate: "no" }, d.role) : null,
  );
}

export default async function log(root) {
  const list = h("ol", { class: "log", "aria-labelledby": "log-title" });
  const more = h("div", { class: "more" });
  clear(root, h("h2", { id: "log-title" }, t("settings.log.title")), h("p", { class: "muted" }, t("settings.log.detail")), list, more);
  let before = null;
  async function page() {
    more.replaceChildren(spinner());
    try {
      const answer = await api.get("/v1/me/security-log", { before, limit: 30 });
      for (const item of answer.items) list.append(entry(item));
      before = answer.next_before;
      if (!list.children.length) list.replaceWith(empty("settings.log.empty"));
      more.replaceChildren(before ? h("button", { type: "button", onclick: page }, t("settings.log.more")) : "");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error; // a bug, not an answer: let it be seen
      more.replaceChildren(h("p", { role: "alert" }, errorText("settings", error)));
    }
  }
  await page();
}
