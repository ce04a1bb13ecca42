// Moderation › Appeals: open, approved or rejected, oldest first; one appeal
// (?appeal=<id>) with the decision it asks to reverse and the content, approved (the
// decision is reversed: content shown again, limit and suspension lifted) or rejected, with
// the reason the author is shown.
import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { ago, dateTime, t } from "../../i18n.js";
import { field, spinner, toast } from "../../ui.js";
import { pagedList } from "../../elements/paged-list.js";
import { personRef, problemMessage, sectionTabs, showFieldProblems, when } from "../../elements/staff-forms.js";
import { decisionItem } from "./case.js";

const STATES = ["open", "approved", "rejected"];

export default async function appeals(container, { query = {} }) {
  if (query.appeal) return appeal(container, query.appeal, query.state);
  const state = STATES.includes(query.state) ? query.state : "open";
  const list = h("ul", { class: "appeal-list" });
  const people = {};
  const paged = pagedList({
    list,
    fetch: async (cursor) => {
      const page = await api.get("/v1/moderation/appeals", { state, cursor });
      Object.assign(people, page.people);
      return { items: page.items, next: page.next_cursor };
    },
    render: (a) =>
      h(
        "li",
        { class: "card appeal", "data-appeal-id": a.id },
        h("p", { class: "small muted" }, h("time", { datetime: a.at, title: dateTime(a.at) }, ago(a.at)), " · ", t("moderation.appeals.by"), " ", personRef(people, a.author_id)),
        userText(a.text, "p", { class: "appeal-text" }),
        h("a", { href: `/moderation/appeals?appeal=${a.id}${state === "open" ? "" : `&state=${state}`}` }, t("moderation.appeals.open")),
      ),
    emptyKey: `moderation.appeals.none_${state}`,
    describe: problemMessage,
  });
  clear(
    container,
    h("h2", {}, t("moderation.appeals.title")),
    sectionTabs(
      "moderation.appeals.states",
      STATES.map((s) => ({ href: s === "open" ? "/moderation/appeals" : `/moderation/appeals?state=${s}`, key: `moderation.appeal_state.${s}`, current: s === state })),
      "sub-tabs",
    ),
    paged.status,
    list,
    paged.more,
  );
  await paged.load(true);
  return undefined;
}

async function appeal(container, id, listState) {
  const back = h("a", { class: "back", href: listState ? `/moderation/appeals?state=${listState}` : "/moderation/appeals" }, h("span", { "aria-hidden": "true" }, "← "), t("moderation.appeals.back"));
  const body = h("div", { class: "stack" }, spinner());
  clear(container, back, h("h2", {}, t("moderation.appeals.one")), body);

  async function load() {
    try {
      const a = await api.get(`/v1/moderation/appeals/${encodeURIComponent(id)}`);
      const view = await api.get(`/v1/moderation/cases/${a.case_id}`);
      const decision = view.decisions.find((d) => d.id === a.decision_id);
      draw(a, view, decision);
    } catch (error) {
      clear(body, h("p", { role: "alert" }, problemMessage(error)));
    }
  }

  function draw(a, view, decision) {
    const c = view.case;
    clear(
      body,
      h(
        "div",
        { class: "card" },
        h("p", { class: "chips" }, h("span", { class: "chip" }, t(`moderation.appeal_state.${a.state}`)), " ", when(a.at)),
        h("p", {}, t("moderation.appeals.by"), " ", personRef(view.people, a.author_id)),
        h("h3", {}, t("moderation.appeals.text")),
        userText(a.text, "p", { class: "appeal-text" }),
        a.reason ? h("p", {}, t("moderation.appeals.ruling"), " ", userText(a.reason), " ", when(a.decided_at)) : null,
      ),
      h("h3", {}, t("moderation.appeals.decision")),
      decision ? h("ul", { class: "decision-list" }, decisionItem(decision, { people: view.people })) : null,
      h("p", {}, h("a", { href: `/moderation/cases/${c.id}` }, t("moderation.appeals.open_case", { target: t(`moderation.target.${c.target_type}`) }))),
      view.current ? h("div", { class: "card" }, h("h3", {}, t("moderation.case.current_version")), view.current.title ? userText(view.current.title, "p", { class: "version-title" }) : null, userText(view.current.body, "div", { class: "version-body" })) : null,
      a.state === "open" ? ruling(a) : null,
    );
  }

  function ruling(a) {
    const reason = h("textarea", { required: true, maxlength: 500, rows: 3 });
    const form = h(
      "form",
      { class: "card stack", novalidate: true },
      h("h3", {}, t("moderation.appeals.rule_title")),
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field("appeal-reason", "moderation.appeals.reason", reason, "moderation.appeals.reason_hint"),
      h(
        "div",
        { class: "row" },
        h("button", { type: "submit", class: "primary", value: "approve" }, t("moderation.appeals.approve")),
        h("button", { type: "submit", class: "danger", value: "reject" }, t("moderation.appeals.reject")),
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const verdict = event.submitter && event.submitter.value === "reject" ? "reject" : "approve";
      const buttons = [...form.querySelectorAll("button")];
      buttons.forEach((b) => (b.disabled = true));
      try {
        await api.post(`/v1/moderation/appeals/${a.id}/${verdict}`, { reason: reason.value.trim() });
        toast(t(`moderation.appeals.${verdict}_done`));
        await load();
      } catch (error) {
        showFieldProblems(form, error, "moderation.appeals", { reason: "appeal-reason" });
      } finally {
        buttons.forEach((b) => (b.disabled = false));
      }
    });
    return form;
  }

  await load();
  return undefined;
}
