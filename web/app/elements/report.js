// Reporting something to the moderators (POST /v1/reports): a category and, if the person
// wants, a few words. One open report per person and target: sending again updates it.
import * as api from "../api.js";
import { h } from "../dom.js";
import { t } from "../i18n.js";
import { busy, field, problemText, toast } from "../ui.js";
import { openDialog } from "./dialog.js";

const CATEGORIES = ["spam", "harassment", "illegal", "nsfw", "other"];
// docs/api.md, "Moderation" (REPORT_COMMENT_MAX).
const COMMENT_MAX = 1_000;

/** openReport("post" | "comment" | …, id): the report form in a dialog. */
export function openReport(targetType, targetId) {
  const choices = CATEGORIES.map((category, i) =>
    h(
      "div",
      { class: "choice" },
      h("input", { type: "radio", name: "report-category", id: `report-category-${category}`, value: category, checked: i === 0 }),
      h("label", { for: `report-category-${category}` }, t(`report.category.${category}`)),
    ),
  );
  const comment = h("textarea", { rows: 3, maxlength: COMMENT_MAX });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h("fieldset", {}, h("legend", {}, t("report.why")), choices),
    field("report-comment", "report.comment", comment, "report.comment_hint"),
    h("div", { class: "row end" }, h("button", { type: "button", onclick: () => close() }, t("dialog.cancel")), h("button", { type: "submit", class: "primary" }, t("report.send"))),
  );
  const { dialog, close } = openDialog({ title: t(`report.title.${targetType}`), body: form });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      const payload = { target_type: targetType, target_id: targetId, category: form.querySelector("input[name=report-category]:checked").value };
      if (comment.value.trim()) payload.comment = comment.value.trim();
      try {
        await api.post("/v1/reports", payload);
        close();
        toast(t("report.sent"));
      } catch (error) {
        // Refusals that concern reporting ("that is yours", "you cannot see it") in its own
        // words, the rest as any problem.
        const own = t(`report.error.${error.code}`);
        const top = form.querySelector(".form-error");
        top.textContent = own !== `report.error.${error.code}` ? own : problemText(error);
        top.hidden = false;
      }
    });
  });
  dialog.querySelector("input[type=radio]").focus();
}
