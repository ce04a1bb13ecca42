// The form of a decision, on one case or on many at once: several actions, a suspension's
// end (none: indefinitely), the reason the author is shown and the rule broken.
import { h } from "../../dom.js";
import { t } from "../../i18n.js";
import { field } from "../../ui.js";
import { fromLocal, showFieldProblems } from "../../elements/staff-forms.js";

export const ACTIONS = ["hide", "restore", "remove", "warn", "limit", "suspend", "dismiss"];

/**
 * decisionForm({prefix, submitText, decide}) -> <form>. `decide(body)` sends it; a problem
 * it throws is shown on the form's fields. The form empties after a decision.
 */
export function decisionForm({ prefix, submitText, decide, legendKey = "moderation.decide.title" }) {
  const boxes = ACTIONS.map((a) => h("input", { type: "checkbox", value: a, id: `${prefix}-action-${a}`, name: "actions" }));
  const until = h("input", { type: "datetime-local" });
  const untilField = field(`${prefix}-suspend_until`, "moderation.decide.suspend_until", until, "moderation.decide.suspend_until_hint");
  untilField.hidden = true;
  const reason = h("textarea", { required: true, maxlength: 500, rows: 3 });
  const rule = h("input", { type: "text", maxlength: 200, autocomplete: "off" });
  const actions = h(
    "fieldset",
    { class: "choices action-choices", id: `${prefix}-actions`, "aria-describedby": `${prefix}-actions-error` },
    h("legend", {}, t("moderation.decide.actions")),
    boxes.map((box) => h("label", { class: "choice", for: box.id }, box, h("span", {}, t(`moderation.action.${box.value}`), h("span", { class: "hint" }, t(`moderation.action_hint.${box.value}`))))),
    h("p", { class: "error", id: `${prefix}-actions-error`, hidden: true }),
  );
  boxes.find((b) => b.value === "suspend").addEventListener("change", (event) => {
    untilField.hidden = !event.target.checked;
  });
  const submit = h("button", { type: "submit", class: "primary" }, submitText);
  const form = h(
    "form",
    { class: "stack decision-form", novalidate: true },
    h("h2", {}, t(legendKey)),
    h("p", { class: "form-error", role: "alert", hidden: true }),
    actions,
    untilField,
    field(`${prefix}-reason`, "moderation.decide.reason", reason, "moderation.decide.reason_hint"),
    field(`${prefix}-rule`, "moderation.decide.rule", rule, "moderation.decide.rule_hint"),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    const body = { actions: chosen, reason: reason.value.trim() };
    if (rule.value.trim()) body.rule = rule.value.trim();
    if (chosen.includes("suspend") && until.value) body.suspend_until = fromLocal(until.value);
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      if (await decide(body)) {
        form.reset();
        untilField.hidden = true;
      }
    } catch (error) {
      showFieldProblems(form, error, "moderation.decide", {
        actions: `${prefix}-actions`,
        reason: `${prefix}-reason`,
        rule: `${prefix}-rule`,
        suspend_until: `${prefix}-suspend_until`,
      });
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
  return form;
}
