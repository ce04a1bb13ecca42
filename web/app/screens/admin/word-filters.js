// Admin › Word filter: the server-wide rules in the order they were added; a rule added or
// changed in a dialog (pattern, whole word or anywhere, action, the writes it screens, a
// note), removed after a confirmation. The API's refusals are shown on their fields.
import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { field, toast } from "../../ui.js";
import { pagedList } from "../../elements/paged-list.js";
import { confirmDialog, formDialog } from "../../elements/dialog.js";
import { problemMessage, showFieldProblems, when } from "../../elements/staff-forms.js";

const ACTIONS = ["block", "hold", "flag", "censor"];
const CONTEXTS = ["posts", "comments", "messages", "profiles"];

export default async function wordFilters(container) {
  const list = h("ul", { class: "rule-list" });
  const paged = pagedList({
    list,
    fetch: async (cursor) => {
      const page = await api.get("/v1/admin/word-filters", { cursor });
      return { items: page.items, next: page.next_cursor };
    },
    render: (rule) => item(rule),
    emptyKey: "admin.filters.none",
    describe: problemMessage,
  });
  const add = h("button", { type: "button", class: "primary", onclick: () => edit(null) }, t("admin.filters.add"));
  clear(
    container,
    h("div", { class: "section-head" }, h("h2", {}, t("admin.filters.title")), add),
    h("p", { class: "muted" }, t("admin.filters.intro")),
    paged.status,
    list,
    paged.more,
  );

  function item(rule) {
    return h(
      "li",
      { class: "card rule", "data-rule-id": rule.id },
      h(
        "div",
        { class: "rule-head" },
        userText(rule.pattern, "strong", { class: "pattern" }),
        h("span", { class: `chip action-${rule.action}` }, t(`admin.filters.action.${rule.action}`)),
        h("span", { class: "chip" }, t(rule.whole_word ? "admin.filters.whole_word_yes" : "admin.filters.whole_word_no")),
      ),
      h("p", { class: "chips small" }, h("span", {}, t("admin.filters.screens")), rule.contexts.map((c) => h("span", { class: "chip" }, t(`admin.filters.context.${c}`)))),
      rule.note ? userText(rule.note, "p", { class: "small muted" }) : null,
      h("p", { class: "small muted" }, t("admin.filters.changed"), " ", when(rule.updated_at)),
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", onclick: () => edit(rule), "aria-label": t("admin.filters.edit_named", { pattern: rule.pattern }) }, t("staff.edit")),
        h("button", { type: "button", class: "danger", onclick: () => remove(rule), "aria-label": t("admin.filters.remove_named", { pattern: rule.pattern }) }, t("admin.filters.remove")),
      ),
    );
  }

  function edit(rule) {
    const pattern = h("input", { type: "text", required: true, maxlength: 200, autocomplete: "off", value: rule ? rule.pattern : "" });
    const wholeWord = h("input", { type: "checkbox", id: "whole_word", checked: rule ? rule.whole_word : true });
    const action = h("select", {}, ACTIONS.map((a) => h("option", { value: a, selected: rule ? rule.action === a : a === "block" }, t(`admin.filters.action.${a}`))));
    const actionHint = h("p", { class: "hint", id: "action-explained" });
    const explain = () => {
      actionHint.textContent = t(`admin.filters.action_hint.${action.value}`);
    };
    action.addEventListener("change", explain);
    explain();
    const boxes = CONTEXTS.map((c) => h("input", { type: "checkbox", value: c, id: `context-${c}`, checked: rule ? rule.contexts.includes(c) : true }));
    const contexts = h(
      "fieldset",
      { class: "choices field", id: "contexts", "aria-describedby": "contexts-error" },
      h("legend", {}, t("admin.filters.contexts")),
      boxes.map((box) => h("label", { class: "choice", for: box.id }, box, t(`admin.filters.context.${box.value}`))),
      h("p", { class: "error", id: "contexts-error", hidden: true }),
    );
    const note = h("input", { type: "text", maxlength: 200, value: rule ? rule.note || "" : "" });
    const actionField = field("action", "admin.filters.action_label", action);
    actionField.append(actionHint);
    action.setAttribute("aria-describedby", `action-explained ${action.getAttribute("aria-describedby")}`);
    const fields = [
      field("pattern", "admin.filters.pattern", pattern, "admin.filters.pattern_hint"),
      h("div", { class: "field" }, h("label", { class: "choice", for: "whole_word" }, wholeWord, t("admin.filters.whole_word")), h("p", { class: "hint" }, t("admin.filters.whole_word_hint")), h("p", { class: "error", id: "whole_word-error", hidden: true })),
      actionField,
      contexts,
      field("note", "admin.filters.note", note, "admin.filters.note_hint"),
    ];
    formDialog({
      title: t(rule ? "admin.filters.edit_title" : "admin.filters.add_title"),
      body: fields,
      submit: t(rule ? "staff.save" : "admin.filters.add"),
      work: async (form) => {
        const body = {
          pattern: pattern.value.trim(),
          whole_word: wholeWord.checked,
          action: action.value,
          contexts: boxes.filter((b) => b.checked).map((b) => b.value),
          note: note.value.trim() || null,
        };
        try {
          if (rule) await api.patch(`/v1/admin/word-filters/${rule.id}`, body);
          else await api.post("/v1/admin/word-filters", body);
          toast(t(rule ? "admin.filters.saved" : "admin.filters.added"));
          await paged.load(true);
          return true;
        } catch (error) {
          showFieldProblems(form, error, "admin.filters");
          return false;
        }
      },
    });
  }

  async function remove(rule) {
    const sure = await confirmDialog({
      title: t("admin.filters.remove_title", { pattern: rule.pattern }),
      text: t("admin.filters.remove_body"),
      confirm: t("admin.filters.remove"),
    });
    if (!sure) return;
    try {
      await api.del(`/v1/admin/word-filters/${rule.id}`);
      toast(t("admin.filters.removed"));
      await paged.load(true);
    } catch (error) {
      toast(problemMessage(error), { error: true });
    }
  }

  await paged.load(true);
}
