// A person's profile (/people/{handle}, or /@{handle}, where mentions link): picture, name, handle, bio, badge, counts linking to
// their followers and following, presence when they show it, follow and block, and their
// posts. The nav's "Profile" names the person by id until they choose a handle: their own id
// sends them to choose one, anyone else's cannot be looked up (profiles are by handle).
import * as api from "../api.js";
import { ApiError } from "../api.js";
import { h, clear, userText } from "../dom.js";
import { ago, date, dateTime, t } from "../i18n.js";
import { go } from "../router.js";
import { avatar } from "../elements/avatar.js";
import { confirmDialog } from "../elements/dialog.js";
import { errorText } from "../elements/problems.js";
import { postCard } from "../elements/post-card.js";
import { announce, empty, spinner, toast } from "../ui.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function notFound(container) {
  clear(container, h("h1", {}, t("profile.not_found.title")), h("p", {}, t("profile.not_found.detail")));
}

export default async function profile(container, { handle }) {
  const me = api.session();
  if (UUID.test(handle)) {
    if (me && me.id === handle.toLowerCase()) {
      return go(me.handle ? `/people/${encodeURIComponent(me.handle)}` : "/profile/edit", { replace: true });
    }
    return notFound(container);
  }
  let person;
  try {
    person = await api.get(`/v1/users/${encodeURIComponent(handle)}`);
  } catch (error) {
    if (error.status === 404) return notFound(container);
    throw error;
  }
  const mine = !!me && me.id === person.id;
  const header = h("header", { class: "profile-head" });
  const posts = h("div", { class: "feed", role: "feed", "aria-busy": "true", "aria-labelledby": "profile-posts" });
  const more = h("div", { class: "more" });
  clear(container, header, h("h2", { id: "profile-posts" }, t("profile.posts")), posts, more);

  function drawHeader() {
    const rel = person.relationship;
    const base = `/people/${encodeURIComponent(person.handle)}`;
    clear(
      header,
      avatar(person, { large: true }),
      h(
        "div",
        { class: "profile-who" },
        h("h1", {}, userText(person.display_name)),
        h(
          "p",
          { class: "row profile-handle" },
          h("span", { class: "muted" }, "@", userText(person.handle)),
          person.vip ? h("span", { class: "chip vip" }, t("profile.vip")) : null,
          presence,
        ),
        person.bio ? userText(person.bio, "p", { class: "bio" }) : null,
        h(
          "p",
          { class: "row counts" },
          h("a", { href: `${base}/followers`, id: "followers-count" }, t("profile.followers", { count: person.followers ?? 0 })),
          h("a", { href: `${base}/following` }, t("profile.following", { count: person.following ?? 0 })),
          person.created_at ? h("span", { class: "muted" }, t("profile.joined"), " ", h("time", { datetime: person.created_at }, date(person.created_at))) : null,
        ),
        rel && rel.followed_by && !rel.blocking ? h("p", { class: "chip" }, t("profile.follows_you")) : null,
        actions(rel),
      ),
    );
  }

  function actions(rel) {
    if (mine) {
      return h("p", { class: "row" }, h("a", { class: "button", href: "/profile/edit" }, t("profile.edit_link")), h("a", { class: "button", href: "/settings" }, t("nav.settings")));
    }
    if (!me) {
      const next = encodeURIComponent(location.pathname);
      return h("p", {}, h("a", { class: "button primary", href: `/signin?next=${next}` }, t("profile.signin_to_follow")));
    }
    if (rel && rel.blocking) {
      return h("div", { class: "stack" }, h("p", { role: "status" }, t("profile.you_blocked")), h("p", {}, h("button", { type: "button", onclick: unblock }, t("profile.unblock"))));
    }
    if (rel && rel.blocked_by) return h("p", { class: "muted", role: "status" }, t("profile.blocked_you"));
    const following = !!(rel && rel.following);
    return h(
      "p",
      { class: "row" },
      h("button", { type: "button", class: following ? null : "primary", "aria-pressed": String(following), onclick: () => follow(!following) }, following ? t("profile.unfollow") : t("profile.follow")),
      h("button", { type: "button", onclick: block }, t("profile.block")),
    );
  }

  // Every change is read back: the counts and buttons are the server's, not a guess (the
  // reader's own writes are visible to their next read, docs/api.md).
  async function reload() {
    person = await api.get(`/v1/users/${encodeURIComponent(person.handle)}`);
    drawHeader();
  }

  async function act(method, what, said) {
    try {
      await api.request(method, `/v1/users/${encodeURIComponent(person.handle)}/${what}`);
      await reload();
      announce(said);
      header.querySelector(".profile-who button")?.focus();
    } catch (error) {
      toast(errorText("profile", error), { error: true });
    }
  }

  const follow = (yes) => act(yes ? "POST" : "DELETE", "follow", yes ? t("profile.followed") : t("profile.unfollowed"));
  const unblock = () => act("DELETE", "block", t("profile.unblocked"));

  async function block() {
    const yes = await confirmDialog({
      title: t("profile.block_title"),
      body: [h("p", {}, t("profile.block_detail")), h("p", { class: "muted" }, "@", userText(person.handle))],
      confirm: t("profile.block"),
      danger: true,
    });
    if (yes) await act("POST", "block", t("profile.blocked"));
  }

  // Presence: only for signed-in readers, and only when the person shows it (online null).
  const presence = h("span", { class: "presence", "aria-live": "polite" });
  if (me && !mine) {
    presence.setAttribute("aria-busy", "true");
    api
      .get(`/v1/users/${encodeURIComponent(person.id)}/presence`)
      .then((p) => {
        if (p.online === true) presence.replaceChildren(h("span", { class: "presence-dot online", "aria-hidden": "true" }), t("profile.online"));
        else if (p.online === false && p.last_seen) presence.replaceChildren(h("span", { class: "presence-dot", "aria-hidden": "true" }), t("profile.last_seen"), " ", h("time", { datetime: p.last_seen, title: dateTime(p.last_seen) }, ago(p.last_seen)));
        else if (p.online === false) presence.replaceChildren(h("span", { class: "presence-dot", "aria-hidden": "true" }), t("profile.offline"));
      })
      .catch(() => {}) // hidden, blocked or offline: nothing to say
      .finally(() => presence.setAttribute("aria-busy", "false"));
  }

  let cursor = null;
  async function page() {
    more.replaceChildren(spinner());
    try {
      const answer = await api.get("/v1/posts", { author: person.id, cursor });
      for (const post of answer.items) posts.append(postCard(post));
      cursor = answer.next_cursor;
      if (!posts.children.length) posts.replaceWith(empty("profile.no_posts"));
      more.replaceChildren(cursor ? h("button", { type: "button", onclick: page }, t("profile.more_posts")) : "");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error; // a bug, not an answer: let it be seen
      more.replaceChildren(h("p", { role: "alert" }, errorText("profile", error)));
    } finally {
      posts.setAttribute("aria-busy", "false");
    }
  }

  drawHeader();
  await page();
}
