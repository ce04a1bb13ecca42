// /standing: a person's own standing — whether their account is suspended or limited, and
// the moderators' decisions about what they wrote (what and why, never by whom or on whose
// report), each with its appeal: filed here once, within the time the decision allows.
// A suspended person's restricted session reaches this screen (its reads and the appeal
// are among the few routes such a session may use).
import * as api from "../api.js";
import { h, clear, userText } from "../dom.js";
import { t } from "../i18n.js";
import { field, spinner, toast } from "../ui.js";
import { pagedList } from "../elements/paged-list.js";
import { problemMessage, showFieldProblems, when } from "../elements/staff-forms.js";

function canAppeal(d) {
  return !d.appeal_id && new Date(d.appeal_until) > new Date() && !(d.actions.length === 1 && d.actions[0] === "dismiss");
}

export default async function standing(container) {
  const account = h("div", { class: "card standing-account", role: "status" }, spinner());
  const list = h("ul", { class: "decision-list" });
  const paged = pagedList({
    list,
    fetch: async (cursor) => {
      const page = await api.get("/v1/me/moderation", { cursor });
      return { items: page.items, next: page.next_cursor };
    },
    render: (d) => decision(d),
    emptyKey: "standing.none",
    moreKey: "standing.more",
    describe: problemMessage,
  });
  clear(
    container,
    h("h1", {}, t("standing.title")),
    account,
    h("h2", {}, t("standing.decisions")),
    h("p", { class: "muted" }, t("standing.intro")),
    paged.status,
    list,
    paged.more,
  );

  async function loadAccount() {
    try {
      const me = await api.get("/v1/me");
      const lines = [];
      if (me.suspended) lines.push(h("p", { class: "state-line" }, me.suspended_until ? [t("standing.suspended_until"), " ", when(me.suspended_until)] : t("standing.suspended_forever")));
      if (me.limited) lines.push(h("p", {}, t("standing.limited")));
      if (!lines.length) lines.push(h("p", {}, t("standing.good")));
      clear(account, lines);
    } catch (error) {
      clear(account, h("p", { role: "alert" }, problemMessage(error)));
    }
  }

  async function ruling(d) {
    if (!d.appeal_id || d.appeal_state === "open") return null;
    try {
      const a = await api.get(`/v1/moderation/appeals/${d.appeal_id}`);
      return a.reason ? h("p", { class: "small" }, t("standing.ruling"), " ", userText(a.reason)) : null;
    } catch {
      return null; // the ruling's words are a courtesy; the state is shown anyway
    }
  }

  function appealForm(d, item) {
    const text = h("textarea", { required: true, maxlength: 2000, rows: 4 });
    const id = `appeal-${d.id}`;
    const form = h(
      "form",
      { class: "stack appeal-form", novalidate: true, hidden: true, id: `${id}-form` },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field(id, "standing.appeal_text", text, "standing.appeal_hint"),
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary" }, t("standing.appeal_submit"))),
    );
    const toggle = h("button", { type: "button", "aria-expanded": "false", "aria-controls": `${id}-form` }, t("standing.appeal"));
    toggle.addEventListener("click", () => {
      form.hidden = !form.hidden;
      toggle.setAttribute("aria-expanded", String(!form.hidden));
      if (!form.hidden) text.focus();
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      try {
        await api.post("/v1/moderation/appeals", { decision_id: d.id, text: text.value.trim() });
        toast(t("standing.appealed"));
        item.replaceWith(await decision({ ...d, appeal_id: "sent", appeal_state: "open" }));
      } catch (error) {
        showFieldProblems(form, error, "standing", { text: id });
      } finally {
        submit.disabled = false;
      }
    });
    return [h("p", { class: "small muted" }, t("standing.appeal_until"), " ", when(d.appeal_until)), toggle, form];
  }

  async function decision(d) {
    const item = h("li", { class: "card decision", "data-decision-id": d.id });
    const link = d.target_type === "post" ? h("a", { href: `/posts/${d.target_id}` }, t("standing.open_post")) : null;
    clear(
      item,
      h("p", { class: "chips" }, h("strong", {}, t(`moderation.target.${d.target_type}`)), d.actions.map((a) => h("span", { class: `chip action-${a}` }, t(`moderation.action.${a}`)))),
      h("p", {}, t("moderation.decision.reason"), " ", userText(d.reason)),
      d.rule ? h("p", { class: "small" }, t("moderation.decision.rule"), " ", userText(d.rule)) : null,
      d.suspend_until ? h("p", { class: "small" }, t("moderation.decision.suspended_until"), " ", when(d.suspend_until)) : null,
      h("p", { class: "small muted" }, when(d.at), link ? [" · ", link] : null),
      d.appeal_state ? h("p", { class: "appeal-state" }, t(`standing.appeal_state.${d.appeal_state}`)) : null,
      await ruling(d),
      canAppeal(d) ? appealForm(d, item) : null,
    );
    return item;
  }

  await Promise.all([loadAccount(), paged.load(true)]);
}
