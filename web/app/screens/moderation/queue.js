// Moderation › Queue: one case per reported target, oldest first, filtered by state,
// category, kind of target and assignee (the filters live in the URL, so back and forward
// keep them), paged by cursor. Cases are selected with checkboxes for one decision on all
// of them; the answer is reported case by case (some may be refused while others pass).
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { ago, dateTime, t } from "../../i18n.js";
import { go } from "../../router.js";
import { announce, field } from "../../ui.js";
import { pagedList } from "../../elements/paged-list.js";
import { personRef, problemMessage } from "../../elements/staff-forms.js";
import { decisionForm } from "./decision-form.js";

export const CATEGORIES = ["spam", "harassment", "illegal", "nsfw", "other"];
export const TARGETS = ["post", "comment", "message", "user", "media"];

function select(options, value) {
  return h("select", {}, options.map(([v, key]) => h("option", { value: v, selected: v === (value || "") }, t(key))));
}

/** Who a case is assigned to, as the reader sees it. */
export function assigneeText(assignee, people) {
  if (!assignee) return t("moderation.case.unassigned");
  return assignee === api.session()?.id ? t("moderation.case.assigned_to_you") : [t("moderation.case.assigned_to"), " ", personRef(people, assignee)];
}

export default async function queue(container, { query = {} }) {
  const me = api.session()?.id;
  const filters = {
    state: select([["open", "moderation.state.open"], ["resolved", "moderation.state.resolved"]], query.state || "open"),
    category: select([["", "moderation.queue.any_category"], ...CATEGORIES.map((c) => [c, `moderation.category.${c}`])], query.category),
    target_type: select([["", "moderation.queue.any_target"], ...TARGETS.map((c) => [c, `moderation.target.${c}`])], query.target_type),
    assignee: select([["", "moderation.queue.anyone"], ["me", "moderation.queue.mine"]], query.assignee),
  };
  const filterForm = h(
    "form",
    { class: "card filters", role: "search", "aria-label": t("moderation.queue.filters") },
    h(
      "div",
      { class: "filter-row" },
      field("queue-state", "moderation.queue.state", filters.state),
      field("queue-category", "moderation.queue.category", filters.category),
      field("queue-target", "moderation.queue.target", filters.target_type),
      field("queue-assignee", "moderation.queue.assignee", filters.assignee),
    ),
    h("button", { type: "submit" }, t("moderation.queue.apply")),
  );
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const next = new URLSearchParams();
    for (const [name, control] of Object.entries(filters)) if (control.value && !(name === "state" && control.value === "open")) next.set(name, control.value);
    const qs = next.toString();
    go(`/moderation/queue${qs ? `?${qs}` : ""}`);
  });

  const list = h("ul", { class: "case-list" });
  const people = {};
  const paged = pagedList({
    list,
    fetch: async (cursor) => {
      const page = await api.get("/v1/moderation/queue", {
        state: query.state || "open",
        category: query.category,
        target_type: query.target_type,
        assignee: query.assignee === "me" ? me : undefined,
        cursor,
      });
      Object.assign(people, page.people);
      return { items: page.items, next: page.next_cursor };
    },
    render: (c) => {
      selectAll.checked = false; // a new case is not selected yet
      return item(c);
    },
    emptyKey: "moderation.queue.empty",
    shown: (count) => t("moderation.queue.count", { count }),
    describe: problemMessage,
  });
  const selectAll = h("input", { type: "checkbox", id: "select-all" });
  const selectedCount = h("p", { class: "muted", "aria-live": "polite" });
  const results = h("div", { class: "bulk-results", "aria-live": "polite" });
  const open = (query.state || "open") === "open";
  const bulk = decisionForm({
    prefix: "bulk",
    legendKey: "moderation.bulk.title",
    submitText: t("moderation.bulk.submit"),
    decide: async (body) => {
      const ids = chosen();
      const top = bulk.querySelector(".form-error");
      if (!ids.length) {
        top.textContent = t("moderation.bulk.none_selected");
        top.hidden = false;
        return false;
      }
      top.hidden = true;
      const answer = await api.post("/v1/moderation/decisions", { case_ids: ids, ...body });
      report(answer);
      await load();
      return true;
    },
  });

  clear(
    container,
    filterForm,
    results,
    open ? h("div", { class: "row select-all" }, selectAll, h("label", { for: "select-all" }, t("moderation.queue.select_all")), selectedCount) : null,
    paged.status,
    list,
    paged.more,
    open ? h("section", { class: "card bulk" }, bulk) : null,
  );

  function chosen() {
    return [...list.querySelectorAll("input[type=checkbox]:checked")].map((box) => box.value);
  }

  function countSelected() {
    const n = chosen().length;
    selectedCount.textContent = n ? t("moderation.queue.selected", { count: n }) : "";
    const boxes = list.querySelectorAll("input[type=checkbox]");
    selectAll.checked = n > 0 && n === boxes.length;
  }

  selectAll.addEventListener("change", () => {
    for (const box of list.querySelectorAll("input[type=checkbox]")) box.checked = selectAll.checked;
    countSelected();
  });

  function report(answer) {
    clear(
      results,
      h(
        "section",
        { class: "card" },
        h("h2", {}, t("moderation.bulk.results")),
        h("p", {}, t("moderation.bulk.decided", { count: answer.decided }), " ", answer.refused ? t("moderation.bulk.refused", { count: answer.refused }) : ""),
        h(
          "ul",
          { class: "result-list" },
          answer.results.map((r) =>
            h(
              "li",
              { class: r.status === 201 ? "ok" : "refused", "data-case-id": r.case_id },
              h("a", { href: `/moderation/cases/${r.case_id}` }, t("moderation.bulk.case")),
              " ",
              r.status === 201 ? t("moderation.bulk.case_decided") : [t("moderation.bulk.case_refused"), " ", problemMessage({ code: String(r.type || "").replace(/^quark:/, ""), status: r.status })],
            ),
          ),
        ),
      ),
    );
    announce(t("moderation.bulk.decided", { count: answer.decided }));
  }

  function item(c) {
    const label = t("moderation.queue.select_case", { target: t(`moderation.target.${c.target_type}`), when: dateTime(c.opened_at) });
    return h(
      "li",
      { class: "case-item card", "data-case-id": c.id },
      open ? h("input", { type: "checkbox", value: c.id, "aria-label": label, onchange: countSelected }) : null,
      h(
        "div",
        { class: "case-summary" },
        h("a", { class: "case-link", href: `/moderation/cases/${c.id}` }, t(`moderation.target.${c.target_type}`), c.categories.map((x) => [" · ", h("span", {}, t(`moderation.category.${x}`))])),
        h(
          "p",
          { class: "small muted" },
          t("moderation.case.author"),
          " ",
          personRef(people, c.author_id),
          " · ",
          t("moderation.case.reporters", { count: c.reporters }),
          " · ",
          t("moderation.case.opened"),
          " ",
          h("time", { datetime: c.opened_at, title: dateTime(c.opened_at) }, ago(c.opened_at)),
          " · ",
          assigneeText(c.assignee, people),
        ),
        h(
          "p",
          { class: "chips" },
          c.state === "resolved" ? h("span", { class: "chip" }, t("moderation.state.resolved")) : null,
          c.auto_hidden_score !== null ? h("span", { class: "chip state-degraded" }, t("moderation.case.auto_hidden")) : null,
          c.author_decisions ? h("span", { class: "chip state-down" }, t("moderation.case.author_decisions", { count: c.author_decisions })) : null,
        ),
      ),
    );
  }

  async function load() {
    await paged.load(true);
    countSelected();
  }
  await load();
  return undefined;
}
