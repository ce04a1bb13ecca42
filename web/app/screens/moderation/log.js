// Moderation › Log (admins): every decision, newest first, by moderator, target and time.
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { t } from "../../i18n.js";
import { field } from "../../ui.js";
import { pagedList } from "../../elements/paged-list.js";
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
  const list = h("ul", { class: "decision-list" });
  const people = {};
  const paged = pagedList({
    list,
    fetch: async (cursor) => {
      const page = await api.get("/v1/moderation/log", {
        moderator: moderator.value.trim(),
        target_id: target.value.trim(),
        // Whole days here: from the start of `since` to the end of `until`.
        since: since.value ? new Date(`${since.value}T00:00:00`).toISOString() : "",
        until: until.value ? new Date(`${until.value}T23:59:59.999`).toISOString() : "",
        cursor,
      });
      Object.assign(people, page.people);
      return { items: page.items, next: page.next_cursor };
    },
    render: (d) => decisionItem(d, { withCase: true, people }),
    emptyKey: "moderation.log.empty",
    failed: (error) => showFieldProblems(form, error, "moderation.log"),
  });
  clear(container, h("h2", {}, t("moderation.log.title")), form, paged.status, list, paged.more);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    paged.load(true);
  });
  await paged.load(true);
}
