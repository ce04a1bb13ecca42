// Admin › Station: the station's health from the edge (`GET /v1/admin/station`: the page may
// only connect to its own origin, and the hub has a port of its own): every module up,
// degraded or down, the dependencies, each read model's lag, the dead letters, and a link
// to the hub's dashboard. Module names and the station's reasons are its own diagnostics:
// shown as they are, never translated.
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { number, t } from "../../i18n.js";
import { empty, spinner } from "../../ui.js";
import { problemMessage, when } from "../../elements/staff-forms.js";

function state(value) {
  return h("span", { class: `chip state-${value}` }, t(`admin.station.state.${value}`));
}

const SEVERITY = { down: 0, degraded: 1, up: 2 };

function raw(text, cls = null) {
  return text ? h("code", { translate: "no", class: cls }, text) : null;
}

/** What needs attention first: down, then degraded, then up; by name within each. */
function worstFirst(items) {
  return [...items].sort((a, b) => (SEVERITY[a.state] ?? 0) - (SEVERITY[b.state] ?? 0) || a.name.localeCompare(b.name));
}

function table(captionKey, columns, rows) {
  return h(
    "section",
    { class: "card" },
    h("h3", {}, t(captionKey)),
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        {},
        h("thead", {}, h("tr", {}, columns.map((key) => h("th", { scope: "col" }, t(key))))),
        h("tbody", {}, rows),
      ),
    ),
  );
}

export default async function station(container) {
  const status = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const body = h("div", { class: "station stack" });
  const refresh = h("button", { type: "button" }, t("admin.station.refresh"));
  clear(container, h("div", { class: "section-head" }, h("h2", {}, t("admin.station.title")), refresh), status, body);

  async function load() {
    refresh.disabled = true;
    status.replaceChildren(spinner(), " ", t("admin.station.checking"));
    try {
      const report = await api.get("/v1/admin/station");
      const deadTotal = Object.values(report.dead_letters).reduce((a, b) => a + b, 0);
      status.replaceChildren(t("admin.station.checked"), " ", when(report.checked_at));
      clear(
        body,
        h(
          "div",
          { class: "card station-summary" },
          h("p", { class: "station-state" }, t("admin.station.overall"), " ", state(report.state)),
          h("p", {}, t("admin.station.dead_letters", { count: deadTotal })),
          report.dashboard_url
            ? h("a", { href: report.dashboard_url, target: "_blank", rel: "noopener noreferrer" }, t("admin.station.dashboard"))
            : h("p", { class: "muted" }, t("admin.station.no_hub")),
        ),
        table(
          "admin.station.modules",
          ["admin.station.module", "admin.station.kind", "admin.station.state_label", "admin.station.instances", "admin.station.reason"],
          worstFirst(report.modules).map((m) =>
            h("tr", { "data-module": m.name }, h("th", { scope: "row" }, raw(m.name)), h("td", {}, raw(m.kind)), h("td", {}, state(m.state)), h("td", { "data-fmt": "" }, number(m.instances)), h("td", {}, raw(m.reason, "reason"))),
          ),
        ),
        table(
          "admin.station.dependencies",
          ["admin.station.dependency", "admin.station.state_label", "admin.station.latency", "admin.station.reason"],
          Object.entries(report.dependencies).map(([name, check]) =>
            h(
              "tr",
              { "data-dependency": name },
              h("th", { scope: "row" }, raw(name)),
              h("td", {}, state(check.state)),
              h("td", { "data-fmt": "" }, check.latency_ms === null || check.latency_ms === undefined ? "" : t("admin.station.ms", { count: check.latency_ms })),
              h("td", {}, raw(check.reason, "reason")),
            ),
          ),
        ),
        table(
          "admin.station.projections",
          ["admin.station.projection", "admin.station.state_label", "admin.station.lag_events", "admin.station.lag_seconds"],
          worstFirst(report.projections).map((p) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, raw(p.name)),
              h("td", {}, state(p.state)),
              h("td", { "data-fmt": "" }, number(p.events)),
              h("td", { "data-fmt": "" }, number(p.seconds)),
            ),
          ),
        ),
        deadTotal
          ? table(
              "admin.station.dead_letters_title",
              ["admin.station.dead_letters_source", "admin.station.dead_letters_count"],
              Object.entries(report.dead_letters).map(([source, n]) => h("tr", {}, h("th", { scope: "row" }, raw(source)), h("td", { "data-fmt": "" }, number(n)))),
            )
          : h("section", { class: "card" }, h("h3", {}, t("admin.station.dead_letters_title")), empty("admin.station.no_dead_letters")),
      );
    } catch (error) {
      status.textContent = problemMessage(error);
    } finally {
      refresh.disabled = false;
    }
  }

  refresh.addEventListener("click", load);
  await load();
}
