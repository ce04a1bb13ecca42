// Moderation › one case: the content as it was reported beside what it is now (and every
// edit or deletion since, which hides nothing from moderators), the reports with their
// categories and comments, the conversation around a reported message, what was decided
// here and about the author before; taking or handing back the case, and deciding it.
import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { spinner, toast } from "../../ui.js";
import { personRef, problemMessage, when } from "../../elements/staff-forms.js";
import { decisionForm } from "./decision-form.js";
import { assigneeText } from "./queue.js";

/** One version of the content (title, body, when; or its deletion) as plain text. */
function version(v, labelKey, extraClass = "") {
  return h(
    "article",
    { class: `version card ${extraClass}`, "aria-labelledby": `${extraClass || "v"}-${v ? v.seq : "none"}-label` },
    h("h3", { id: `${extraClass || "v"}-${v ? v.seq : "none"}-label` }, t(labelKey)),
    !v
      ? h("p", { class: "muted" }, t("moderation.case.gone"))
      : [
          h("p", { class: "small muted" }, when(v.at), v.deleted ? [" · ", h("span", { class: "chip state-down" }, t("moderation.case.deleted"))] : null),
          v.title ? userText(v.title, "p", { class: "version-title" }) : null,
          userText(v.body, "div", { class: "version-body" }),
        ],
  );
}

/** A decision: its actions, reason, rule, when, by whom, and its appeal. */
export function decisionItem(d, { withCase = false, people = {} } = {}) {
  return h(
    "li",
    { class: "decision card", "data-decision-id": d.id },
    h("p", { class: "chips" }, withCase ? h("strong", {}, t(`moderation.target.${d.target_type}`)) : null, d.actions.map((a) => h("span", { class: `chip action-${a}` }, t(`moderation.action.${a}`))), d.appeal_state ? h("span", { class: "chip" }, t(`moderation.appeal_state.${d.appeal_state}`)) : null),
    h("p", {}, t("moderation.decision.reason"), " ", userText(d.reason)),
    d.rule ? h("p", { class: "small" }, t("moderation.decision.rule"), " ", userText(d.rule)) : null,
    d.suspend_until ? h("p", { class: "small" }, t("moderation.decision.suspended_until"), " ", when(d.suspend_until)) : null,
    h(
      "p",
      { class: "small muted" },
      when(d.at),
      " · ",
      t("moderation.decision.by"),
      " ",
      personRef(people, d.moderator_id),
      withCase ? [" · ", h("a", { href: `/moderation/cases/${d.case_id}` }, t("moderation.decision.open_case"))] : null,
    ),
  );
}

function section(titleKey, ...children) {
  return h("section", { class: "case-part" }, h("h2", {}, t(titleKey)), children);
}

export default async function caseScreen(container, { case_id: caseId }) {
  const me = api.session()?.id;
  const path = `/v1/moderation/cases/${encodeURIComponent(caseId)}`;
  const heading = h("h1", {}, t("moderation.case.title_loading"));
  const body = h("div", { class: "case-body" }, spinner());
  clear(container, h("a", { class: "back", href: "/moderation" }, h("span", { "aria-hidden": "true" }, "← "), t("moderation.case.back")), heading, body);

  async function assign(assignee) {
    try {
      await api.post(`${path}/assign`, { assignee });
      toast(t(assignee ? "moderation.case.assigned" : "moderation.case.unassigned_done"));
      await load();
    } catch (error) {
      toast(problemMessage(error), { error: true });
    }
  }

  function draw(view) {
    const c = view.case;
    heading.textContent = t("moderation.case.title", { target: t(`moderation.target.${c.target_type}`) });
    const reported = view.reports.length ? [...view.reports].sort((a, b) => a.reported.seq - b.reported.seq)[0].reported : null;
    const mine = c.assignee === me;
    const targetLink = c.target_type === "post" ? h("a", { href: `/posts/${c.target_id}` }, t("moderation.case.open_post")) : null;
    clear(
      body,
      h(
        "div",
        { class: "card case-head" },
        h(
          "p",
          { class: "chips" },
          h("span", { class: "chip" }, t(`moderation.state.${c.state}`)),
          c.categories.map((x) => h("span", { class: "chip" }, t(`moderation.category.${x}`))),
          c.auto_hidden_score !== null ? h("span", { class: "chip state-degraded" }, t("moderation.case.auto_hidden")) : null,
        ),
        h("p", {}, t("moderation.case.reporters", { count: c.reporters }), " · ", t("moderation.case.opened"), " ", when(c.opened_at)),
        h("p", {}, t("moderation.case.author"), " ", personRef(view.people, c.author_id), targetLink ? [" · ", targetLink] : null),
        h(
          "p",
          { class: "row" },
          h("span", { class: "assignee" }, assigneeText(c.assignee, view.people)),
          mine ? null : h("button", { type: "button", onclick: () => assign(me) }, t("moderation.case.assign_me")),
          c.assignee ? h("button", { type: "button", onclick: () => assign(null) }, t("moderation.case.unassign")) : null,
        ),
      ),
      section(
        "moderation.case.content",
        h("div", { class: "versions" }, version(reported, "moderation.case.reported_version", "reported"), version(view.current, "moderation.case.current_version", "current")),
        view.after_report.length
          ? h("details", { class: "later" }, h("summary", {}, t("moderation.case.later_versions", { count: view.after_report.length })), h("ol", { class: "version-list" }, view.after_report.map((v) => h("li", {}, version(v, v.deleted ? "moderation.case.deletion" : "moderation.case.edit", `later-${v.seq}`)))))
          : h("p", { class: "muted" }, t("moderation.case.no_later_versions")),
      ),
      view.context.length
        ? section(
            "moderation.case.context",
            h(
              "ol",
              { class: "messages context" },
              view.context.map((m) =>
                h(
                  "li",
                  { class: `message${m.reported ? " reported" : ""}` },
                  h("p", { class: "meta" }, personRef(view.people, m.sender_id), " ", when(m.sent_at), m.reported ? [" ", h("span", { class: "chip state-down" }, t("moderation.case.reported_message"))] : null),
                  m.deleted ? h("p", { class: "muted" }, t("moderation.case.deleted")) : userText(m.body, "p"),
                ),
              ),
            ),
          )
        : null,
      section(
        "moderation.case.reports",
        h(
          "ul",
          { class: "report-list" },
          view.reports.map((r) =>
            h(
              "li",
              { class: "card" },
              h("p", { class: "chips" }, h("span", { class: "chip" }, t(`moderation.category.${r.category}`)), " ", when(r.updated_at)),
              r.comment ? userText(r.comment, "p") : h("p", { class: "muted" }, t("moderation.case.no_comment")),
              h("p", { class: "small muted" }, t("moderation.case.reporter"), " ", personRef(view.people, r.reporter_id)),
            ),
          ),
        ),
      ),
      view.decisions.length ? section("moderation.case.decisions", h("ul", { class: "decision-list" }, view.decisions.map((d) => decisionItem(d, { people: view.people })))) : null,
      section(
        "moderation.case.history",
        view.author_history.length ? h("ul", { class: "decision-list" }, view.author_history.map((d) => decisionItem(d, { withCase: true, people: view.people }))) : h("p", { class: "muted" }, t("moderation.case.no_history")),
      ),
      h(
        "section",
        { class: "card" },
        decisionForm({
          prefix: "case",
          submitText: t("moderation.decide.submit"),
          decide: async (decision) => {
            await api.post(`${path}/decisions`, decision);
            toast(t("moderation.decide.done"));
            await load();
            return true;
          },
        }),
      ),
    );
  }

  async function load() {
    try {
      draw(await api.get(path));
    } catch (error) {
      heading.textContent = t("moderation.case.title_unknown");
      clear(body, h("p", { role: "alert" }, problemMessage(error)));
    }
  }

  await load();
}
