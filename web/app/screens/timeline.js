// Timelines (home, public, a tag, a category): pages by cursor as the reader scrolls, the
// composer on home, and a banner when new posts are there ("3 new posts") that shows them
// on demand.
//
// New posts: the gateway carries no item for posts (docs/websocket.md lists messages,
// conversations and notifications only), so while the screen is visible it reads the first
// page again every 30 s and compares it with the newest post shown; a screen that comes
// back into view checks at once if the last check is older than that.
import * as api from "../api.js";
import { h, clear, userText } from "../dom.js";
import { t } from "../i18n.js";
import { postCard } from "../elements/post-card.js";
import { categoryDescription, categoryName, loadCategories } from "../elements/categories.js";
import { composer } from "../elements/composer.js";
import { announce, empty, problemText, spinner } from "../ui.js";

export const POLL_MS = 30_000;

function source(params) {
  switch (params.kind) {
    case "home":
      return { path: "/v1/timelines/home", title: t("timeline.home") };
    case "tag":
      return { path: `/v1/tags/${encodeURIComponent(params.tag)}/posts`, title: userText(`#${params.tag}`) };
    case "category":
      return { path: `/v1/categories/${encodeURIComponent(params.slug)}/posts`, title: userText(categoryName(params.slug)) };
    default:
      return { path: "/v1/timelines/public", title: t("timeline.public") };
  }
}

export default async function timeline(container, params) {
  if (params.kind === "category") await loadCategories();
  else loadCategories(); // for the category chips; cards show the slug until it arrives
  const { path, title } = source(params);
  const list = h("div", { class: "feed", role: "feed", "aria-busy": "true", "aria-label": t("timeline.feed") });
  const nothing = empty("timeline.empty");
  nothing.hidden = true;
  const moreButton = h("button", { type: "button", class: "more-button", onclick: () => page() }, t("timeline.more"));
  const more = h("div", { class: "more" }, moreButton);
  const status = h("p", { class: "muted", role: "status" });
  const banner = h("button", { type: "button", class: "banner", hidden: true, onclick: () => showNew() });
  const description = params.kind === "category" ? categoryDescription(params.slug) : null;
  clear(
    container,
    h("h1", {}, title),
    description ? userText(description, "p", { class: "muted" }) : null,
    params.kind === "home" && api.session()
      ? h("section", { class: "compose", "aria-labelledby": "compose-heading" }, h("h2", { id: "compose-heading" }, t("composer.heading")), composer({ prefix: "compose", inline: true, onPublished: published }))
      : null,
    status,
    banner, // said through the shared announcer when it appears
    list,
    nothing,
    more,
  );

  let cursor = null;
  let done = false;
  let loading = false;
  let fresh = []; // posts newer than the newest shown, waiting behind the banner
  let checked = Date.now();
  const shown = new Set();

  function newest() {
    const first = list.querySelector("article[data-post-id]");
    return first ? first.dataset.postId : null;
  }

  function place(posts, where = "end") {
    const cards = posts.filter((p) => !shown.has(p.id)).map((p) => {
      shown.add(p.id);
      return postCard(p);
    });
    if (where === "start") list.prepend(...cards);
    else list.append(...cards);
    nothing.hidden = list.children.length > 0;
    return cards;
  }

  async function page() {
    if (loading || done) return;
    loading = true;
    moreButton.hidden = true;
    more.append(spinner());
    try {
      const answer = await api.get(path, { cursor });
      status.textContent = answer.offline ? t("shell.offline") : "";
      place(answer.items);
      cursor = answer.next_cursor;
      done = !cursor;
    } catch (error) {
      status.textContent = problemText(error);
      done = true;
    } finally {
      loading = false;
      more.querySelector(".spinner")?.remove();
      moreButton.hidden = done;
      list.setAttribute("aria-busy", "false");
    }
  }

  async function check() {
    if (loading || document.visibilityState !== "visible") return;
    checked = Date.now();
    try {
      const answer = await api.get(path);
      const top = newest();
      const at = answer.items.findIndex((p) => p.id === top);
      // Not found on the first page: more arrived than a page holds (or the newest shown
      // went); showing them means starting again from the top.
      fresh = (at === -1 ? answer.items : answer.items.slice(0, at)).filter((p) => !shown.has(p.id));
      fresh.gap = at === -1 && top !== null;
      if (fresh.length) {
        banner.textContent = t("timeline.new_posts", { count: fresh.length });
        if (banner.hidden) announce(banner.textContent);
        banner.hidden = false;
      }
    } catch {
      // Offline or a hiccup: the next check tries again.
    }
  }

  async function showNew() {
    banner.hidden = true;
    let cards;
    if (fresh.gap) {
      clear(list);
      shown.clear();
      cursor = null;
      done = false;
      cards = place(fresh);
      await page(); // the first page again: what is shown already is skipped
    } else {
      cards = place(fresh, "start");
    }
    fresh = [];
    // Keyboard and screen reader users land on the first new post, as sighted ones do.
    if (cards.length) {
      cards[0].setAttribute("tabindex", "-1");
      cards[0].focus();
    }
  }

  async function published(id) {
    try {
      const post = await api.get(`/v1/posts/${id}`);
      place([post], "start");
    } catch {
      // It is published; the next check or visit shows it.
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) page();
  });
  await page();
  observer.observe(more);
  const timer = setInterval(check, POLL_MS);
  const visible = () => {
    if (document.visibilityState === "visible" && Date.now() - checked >= POLL_MS) check();
  };
  document.addEventListener("visibilitychange", visible);
  return () => {
    observer.disconnect();
    clearInterval(timer);
    document.removeEventListener("visibilitychange", visible);
  };
}
