// Timelines (home, public, a tag, a category): pages by cursor as the reader scrolls, and a
// banner when new posts arrive live ("N new posts") that shows them on demand.
import * as api from "../api.js";
import { h, clear, userText } from "../dom.js";
import { t } from "../i18n.js";
import { postCard } from "../elements/post-card.js";
import { empty, problemText, spinner } from "../ui.js";

function source(params) {
  switch (params.kind) {
    case "home":
      return { path: "/v1/timelines/home", title: t("timeline.home") };
    case "tag":
      return { path: `/v1/tags/${encodeURIComponent(params.tag)}/posts`, title: `#${params.tag}`, user: true };
    case "category":
      return { path: `/v1/categories/${encodeURIComponent(params.slug)}/posts`, title: params.slug, user: true };
    default:
      return { path: "/v1/timelines/public", title: t("timeline.public") };
  }
}

export default async function timeline(container, params) {
  const { path, title, user } = source(params);
  const list = h("div", { class: "feed", role: "feed", "aria-busy": "true" });
  const more = h("div", { class: "more", "aria-hidden": "true" });
  const status = h("p", { class: "muted", role: "status" });
  clear(container, h("h1", {}, user ? userText(title) : title), status, list, more);
  let cursor = null;
  let done = false;
  let loading = false;

  async function page() {
    if (loading || done) return;
    loading = true;
    more.replaceChildren(spinner());
    try {
      const answer = await api.get(path, { cursor });
      if (answer.offline) status.textContent = t("shell.offline");
      for (const post of answer.items) list.append(postCard(post));
      cursor = answer.next_cursor;
      done = !cursor;
      if (!list.children.length) list.replaceWith(empty("timeline.empty"));
    } catch (error) {
      status.textContent = problemText(error);
      done = true;
    } finally {
      loading = false;
      more.replaceChildren();
      list.setAttribute("aria-busy", "false");
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) page();
  });
  await page();
  observer.observe(more);
  return () => observer.disconnect();
}
