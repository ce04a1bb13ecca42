// Moderation › Log (admins): every decision, newest first, by moderator, target and time.
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { t } from "../../i18n.js";
import { empty, field, spinner } from "../../ui.js";
import { showFieldProblems } from "../../elements/staff-forms.js";
import { decisionItem } from "./case.js";

export default async function log(container) {
  const moderator = h("input", { type: "text", autocomplete: "off", translate: "no", spellcheck: "false" });
  const target = h("input", { type: "text", autocomplete: "off", translate: "no", spellcheck: "false" });
  const since = h("input", { type: "date" });
  const until = h("input", { type: "date" });
  const form = h(
    "form",
    { class: "card filters", role: "search", novalidate: true, "aria-label": t("moderation.log.filters") },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h(
      "div",
      { class: "filter-row" },
      field("moderator", "moderation.log.moderator", moderator, "moderation.log.id_hint"),
      field("target_id", "moderation.log.target", target, "moderation.log.id_hint"),
      field("since", "moderation.log.since", since),
      field("until", "moderation.log.until", until),
    ),
    h("button", { type: "submit" }, t("moderation.queue.apply")),
  );
  const status = h("p", { class: "muted", role: "status" });
  const list = h("ul", { class: "decision-list" });
  const more = h("button", { type: "button", hidden: true }, t("staff.more"));
  clear(container, h("h2", {}, t("moderation.log.title")), form, status, list, more);

  let cursor = null;
  async function load(reset) {
    if (reset) {
      cursor = null;
      list.replaceChildren();
    }
    status.replaceChildren(spinner());
    more.hidden = true;
    try {
      const page = await api.get("/v1/moderation/log", {
        moderator: moderator.value.trim(),
        target_id: target.value.trim(),
        // Whole days here: from the start of `since` to the end of `until`.
        since: since.value ? new Date(`${since.value}T00:00:00`).toISOString() : "",
        until: until.value ? new Date(`${until.value}T23:59:59.999`).toISOString() : "",
        cursor,
      });
      for (const d of page.items) list.append(decisionItem(d, { withCase: true }));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      status.replaceChildren(list.children.length ? "" : empty("moderation.log.empty"));
    } catch (error) {
      status.textContent = "";
      showFieldProblems(form, error, "moderation.log");
    }
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true);
  });
  more.addEventListener("click", () => load(false));
  await load(true);
}
