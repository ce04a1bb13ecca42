// Admin › Statistics: sign-ups, posts and messages per UTC day as bar charts, over a range
// of dates (the last 30 days unless chosen), with the range's totals of every figure.
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { number, t } from "../../i18n.js";
import { field, spinner } from "../../ui.js";
import { barChart } from "../../elements/bar-chart.js";
import { showFieldProblems } from "../../elements/staff-forms.js";

const CHARTS = ["sign_ups", "posts", "messages"];
const TOTALS = ["sign_ups", "active_people", "posts", "comments", "messages", "uploads", "reports"];

export default async function stats(container) {
  const from = h("input", { type: "date", required: true });
  const to = h("input", { type: "date", required: true });
  const form = h(
    "form",
    { class: "card filters", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h("div", { class: "filter-row" }, field("from", "admin.stats.from", from), field("to", "admin.stats.to", to)),
    h("button", { type: "submit", class: "primary" }, t("admin.stats.show")),
  );
  const status = h("p", { class: "muted", role: "status" });
  const totals = h("dl", { class: "totals" });
  const charts = h("div", { class: "charts" });
  clear(container, h("h2", {}, t("admin.stats.title")), h("p", { class: "muted" }, t("admin.stats.intro")), form, status, totals, charts);

  async function load() {
    status.replaceChildren(spinner());
    try {
      const answer = await api.get("/v1/admin/stats", { from: from.value, to: to.value });
      from.value = answer.from;
      to.value = answer.to;
      status.textContent = t("admin.stats.days", { count: answer.days.length });
      clear(
        totals,
        TOTALS.map((m) => h("div", { class: "total" }, h("dt", {}, t(`admin.stats.metric.${m}`)), h("dd", { "data-fmt": "" }, number(answer.totals[m])))),
      );
      clear(
        charts,
        CHARTS.map((m) => barChart({ id: m, titleKey: `admin.stats.metric.${m}`, days: answer.days.map((d) => ({ day: d.day, value: d[m] })) })),
      );
      return true;
    } catch (error) {
      status.textContent = "";
      showFieldProblems(form, error, "admin.stats");
      return false;
    }
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load();
  });
  await load();
}
