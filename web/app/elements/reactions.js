// Reactions on a post or a comment: one toggle button per kind (aria-pressed says whether it
// is mine), its count beside it. A press is shown at once and undone if the API refuses it.
import * as api from "../api.js";
import { h, clear } from "../dom.js";
import { number, t } from "../i18n.js";
import { go } from "../router.js";
import { problemText, toast } from "../ui.js";

/** The kinds the API knows, in the order it lists them (docs/api.md, "Reactions"). */
export const KINDS = ["like", "love", "laugh", "wow", "sad", "angry"];
export const EMOJI = { like: "★", love: "❤", laugh: "😂", wow: "😮", sad: "😢", angry: "😠" };

/**
 * reactionBar("/v1/posts/<id>", {counts, mine}, {kinds}) -> a group of toggle buttons.
 * `kinds` limits the choice (comments offer a like only).
 */
export function reactionBar(base, { counts = {}, mine = [] } = {}, { kinds = KINDS, label = t("reaction.label") } = {}) {
  const state = { counts: { ...counts }, mine: new Set(mine) };
  const bar = h("div", { class: "reactions", role: "group", "aria-label": label });

  function button(kind) {
    const n = state.counts[kind] || 0;
    const pressed = state.mine.has(kind);
    return h(
      "button",
      { type: "button", class: "reaction", "aria-pressed": String(pressed), "data-kind": kind, onclick: () => toggle(kind) },
      h("span", { "aria-hidden": "true" }, EMOJI[kind]),
      h("span", { class: "visually-hidden" }, t(`reaction.${kind}`)),
      n ? h("span", { class: "count", "data-fmt": "" }, number(n)) : null,
    );
  }

  function draw() {
    const focused = document.activeElement && bar.contains(document.activeElement) ? document.activeElement.dataset.kind : null;
    clear(bar, kinds.map(button));
    if (focused) bar.querySelector(`[data-kind="${focused}"]`)?.focus();
  }

  function apply(kind, on) {
    if (on === state.mine.has(kind)) return;
    state.counts[kind] = Math.max(0, (state.counts[kind] || 0) + (on ? 1 : -1));
    if (on) state.mine.add(kind);
    else state.mine.delete(kind);
    draw();
  }

  async function toggle(kind) {
    if (!api.session()) {
      go(`/signin?next=${encodeURIComponent(location.pathname)}`);
      return;
    }
    const on = !state.mine.has(kind);
    apply(kind, on);
    try {
      if (on) await api.put(`${base}/reactions/${kind}`);
      else await api.del(`${base}/reactions/${kind}`);
    } catch (error) {
      apply(kind, !on);
      toast(problemText(error), { error: true });
    }
  }

  draw();
  return bar;
}
