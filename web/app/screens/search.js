// Search (/search?q=&type=): posts, people or tags as the person types, with the API's
// highlighted snippets; the tags trending now while the query is empty. The query and the
// kind are kept in the address, so a search can be linked, reloaded and gone back to.
import * as api from "../api.js";
import { h, clear, userText } from "../dom.js";
import { t } from "../i18n.js";
import { avatar, byline, personHref, timeOf } from "../elements/post-card.js";
import { empty, problemText, spinner } from "../ui.js";

const KINDS = ["posts", "users", "tags"];
const TYPING_MS = 300;
const ENTITIES = { amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'", "#x27": "'" };

const decode = (text) => text.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, name) => ENTITIES[name]);

/**
 * The API's snippet ("escaped text with <mark>matches</mark>") as nodes: each piece of text
 * a text node, each match a <mark> element. The snippet is never parsed as HTML: nothing
 * but `<mark>` is recognised, and everything else stays text.
 */
export function highlighted(snippet, tag = "span", attrs = {}) {
  const el = h(tag, { ...attrs, "data-user": "" });
  let marked = false;
  for (const part of String(snippet || "").split(/(<\/?mark>)/)) {
    if (part === "<mark>") marked = true;
    else if (part === "</mark>") marked = false;
    else if (part) el.append(marked ? h("mark", {}, decode(part)) : decode(part));
  }
  return el;
}

function postHit(hit) {
  const post = hit.post;
  const a = post.author || {};
  const heading = hit.title_snippet ? highlighted(hit.title_snippet) : h("span", {}, t("post.heading", { name: a.display_name || a.handle || t("post.someone") }));
  return h(
    "li",
    {},
    h(
      "article",
      { class: "hit post-hit", "aria-labelledby": `hit-${post.id}` },
      h("h2", { class: "hit-title", id: `hit-${post.id}` }, h("a", { href: `/posts/${post.id}` }, heading)),
      highlighted(hit.snippet, "p", { class: "snippet" }),
      byline(post.author, post.author_id, timeOf(post.published_at)),
    ),
  );
}

function userHit(hit) {
  const user = hit.user;
  return h(
    "li",
    {},
    h(
      "a",
      { class: "hit person-hit", href: personHref(user) },
      avatar(user),
      h("span", { class: "who" }, userText(user.display_name, "strong"), user.handle ? h("span", { class: "meta" }, "@", userText(user.handle)) : null),
    ),
  );
}

function tagHit(hit) {
  return h(
    "li",
    {},
    h("a", { class: "hit tag-hit", href: `/tags/${encodeURIComponent(hit.tag)}` }, userText(`#${hit.tag}`, "strong"), h("span", { class: "meta" }, t("search.tag_posts", { count: hit.posts }))),
  );
}

const DRAW = { posts: postHit, users: userHit, tags: tagHit };

export default async function search(container, { query }) {
  let kind = KINDS.includes(query.type) ? query.type : "posts";
  const input = h("input", { type: "search", id: "search-q", name: "q", value: query.q || "", autocomplete: "off", maxlength: 200, enterkeyhint: "search" });
  const choices = KINDS.map((k) =>
    h("label", { class: "segment" }, h("input", { type: "radio", name: "search-type", value: k, checked: k === kind }), t(`search.type.${k}`)),
  );
  const form = h(
    "form",
    { role: "search", class: "search-form", "aria-label": t("search.title") },
    h("div", { class: "field" }, h("label", { for: "search-q" }, t("search.label")), h("div", { class: "row search-row" }, input, h("button", { type: "submit", class: "primary" }, t("search.submit")))),
    h("fieldset", { class: "segments" }, h("legend", { class: "visually-hidden" }, t("search.type")), choices),
  );
  const status = h("p", { class: "muted", role: "status" });
  const results = h("ul", { class: "hits", "aria-label": t("search.results") });
  const more = h("button", { type: "button", class: "more-button", hidden: true, onclick: () => run({ next: true }) }, t("search.more"));
  const trending = h("section", { class: "trending", "aria-labelledby": "trending-heading", hidden: true });
  clear(container, h("h1", {}, t("search.title")), form, status, results, more, trending);

  let cursor = null;
  let controller = null;
  let timer = null;

  function remember() {
    const q = input.value.trim();
    const params = new URLSearchParams();
    if (q) params.set("q", q);
    if (kind !== "posts") params.set("type", kind);
    const url = `/search${params.toString() ? `?${params}` : ""}`;
    if (url !== location.pathname + location.search) history.replaceState(null, "", url);
  }

  async function showTrending() {
    trending.hidden = false;
    clear(trending, h("h2", { id: "trending-heading" }, t("search.trending")), spinner());
    try {
      const answer = await api.get("/v1/tags/trending", { limit: 20 });
      clear(
        trending,
        h("h2", { id: "trending-heading" }, t("search.trending")),
        answer.items.length
          ? h(
              "ol",
              { class: "hits" },
              answer.items.map((tag) =>
                h(
                  "li",
                  {},
                  h("a", { class: "hit tag-hit", href: `/tags/${encodeURIComponent(tag.tag)}` }, userText(`#${tag.tag}`, "strong"), h("span", { class: "meta" }, t("search.trending_people", { count: tag.authors }), " · ", t("search.tag_posts", { count: tag.posts }))),
                ),
              ),
            )
          : empty("search.trending_empty"),
      );
    } catch (error) {
      clear(trending, h("h2", { id: "trending-heading" }, t("search.trending")), h("p", {}, problemText(error)));
    }
  }

  async function run({ next = false } = {}) {
    clearTimeout(timer);
    remember();
    const q = input.value.trim();
    if (controller) controller.abort();
    if (!next) {
      cursor = null;
      clear(results);
    }
    more.hidden = true;
    if (!q) {
      status.textContent = "";
      controller = null;
      return showTrending();
    }
    trending.hidden = true;
    controller = new AbortController();
    status.replaceChildren(spinner());
    try {
      const answer = await api.get("/v1/search", { q, type: kind, cursor: next ? cursor : undefined }, { signal: controller.signal });
      results.append(...answer.items.map((hit) => DRAW[kind](hit)));
      cursor = answer.next_cursor;
      more.hidden = !cursor;
      status.textContent = results.children.length ? t(`search.found.${kind}`, { count: results.children.length }) : t("search.nothing");
    } catch (error) {
      if (error.name === "AbortError") return;
      status.textContent = problemText(error);
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => run(), TYPING_MS);
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run();
  });
  form.addEventListener("change", (event) => {
    if (event.target.name !== "search-type") return;
    kind = event.target.value;
    run();
  });
  await run();
  return () => {
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}
