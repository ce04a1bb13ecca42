// The API's refusals on the app's own forms: field errors placed under the controls they
// name (whatever ids the form gave them), the word filter's in the catalog's words with
// the rule and the text it matched.
import { t } from "../i18n.js";
import { problemText, showProblem } from "../ui.js";

/** One field error in words: the word filter's names its rule and what it matched. */
export function fieldMessage(error, item) {
  const message = item.message || item.detail || "";
  if (error.code === "word-filter-blocked") {
    // "matches word filter rule <id>: 'text'" (edge/wordfilter.py): Python's repr quotes.
    const hit = /rule (\S+): (['"])(.*)\2$/s.exec(message);
    if (hit) return t("form.word_filter", { rule: hit[1], text: hit[3] });
  }
  return message || problemText(error);
}

/**
 * showFormProblem(form, error, {body: "comment-body"}): the API names fields as its
 * request does (`body`, `title`, `media_ids`); `ids` says which control shows each.
 */
export function showFormProblem(form, error, ids = {}) {
  const errors = (error.errors || []).map((item) => {
    const name = String(item.field || item.pointer || "").replace(/^\$\.?|^\//, "");
    return { field: ids[name] || name, message: fieldMessage(error, item) };
  });
  showProblem(form, { code: error.code, status: error.status, errors });
}

/** Hide every problem shown on a form. */
export function clearProblems(form) {
  for (const slot of form.querySelectorAll(".error, .form-error")) {
    slot.hidden = true;
    slot.textContent = "";
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}
