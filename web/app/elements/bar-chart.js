// A bar chart of one figure per day, drawn as inline SVG (no library). Built with
// createElementNS and sized with SVG attributes only: the page's policy forbids inline
// styles, and colours come from the stylesheet's classes (tokens). The picture is hidden
// from screen readers; beside it, a table of the same numbers is read instead.
import { h } from "../dom.js";
import { current, number, t } from "../i18n.js";

const SVG = "http://www.w3.org/2000/svg";
// Units of the drawing: each day is BAR wide with GAP between, HEIGHT tall.
const BAR = 10;
const GAP = 2;
const HEIGHT = 100;

/** A day of the API (`YYYY-MM-DD`, a UTC day) as the reader reads dates. */
export function utcDay(day) {
  return new Intl.DateTimeFormat(current(), { dateStyle: "medium", timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, String(value));
  el.append(...children);
  return el;
}

/**
 * barChart({id, titleKey, days: [{day, value}]}) -> <figure> with the chart, its total and
 * (visually hidden) a table of every day's number.
 */
export function barChart({ id, titleKey, days }) {
  const max = Math.max(1, ...days.map((d) => d.value));
  const total = days.reduce((sum, d) => sum + d.value, 0);
  const width = Math.max(1, days.length) * (BAR + GAP);
  const picture = svg(
    "svg",
    { class: "chart", viewBox: `0 0 ${width} ${HEIGHT}`, preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false", "data-metric": id },
    svg("line", { class: "baseline", x1: 0, y1: HEIGHT - 0.5, x2: width, y2: HEIGHT - 0.5 }),
    ...days.map((d, i) => {
      // A day with something gets at least one unit, so a small figure beside a large one
      // still shows.
      const height = d.value ? Math.max(1, (d.value / max) * (HEIGHT - 4)) : 0;
      return svg(
        "rect",
        { class: "bar", x: i * (BAR + GAP) + GAP / 2, y: HEIGHT - height, width: BAR, height, "data-value": d.value },
        svg("title", {}, `${utcDay(d.day)}: ${number(d.value)}`),
      );
    }),
  );
  const captionId = `chart-${id}-title`;
  const first = days[0];
  const last = days[days.length - 1];
  return h(
    "figure",
    { class: "chart-figure card", "aria-labelledby": captionId },
    h("figcaption", { id: captionId }, h("strong", {}, t(titleKey)), " ", h("span", { class: "muted" }, t("admin.stats.total", { count: total }))),
    picture,
    first
      ? h(
          "p",
          { class: "chart-axis small muted" },
          h("time", { datetime: first.day }, utcDay(first.day)),
          h("span", {}, t("admin.stats.max", { count: max })),
          h("time", { datetime: last.day }, utcDay(last.day)),
        )
      : null,
    h(
      "table",
      { class: "visually-hidden" },
      h("caption", {}, t(titleKey)),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("admin.stats.day")), h("th", { scope: "col" }, t(titleKey)))),
      h(
        "tbody",
        {},
        days.map((d) => h("tr", {}, h("th", { scope: "row" }, h("time", { datetime: d.day }, utcDay(d.day))), h("td", { "data-fmt": "" }, number(d.value)))),
      ),
    ),
  );
}
