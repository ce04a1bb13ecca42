// Notifications: the list (GET /v1/notifications: grouped by target, newest first, the
// people behind each), new and changed ones live from the gateway, marking one or all read;
// and, at /notifications?view=settings, which kinds I get and "only from people I follow".
//
// A live item names its actors by id only, so the list is read again for their names: items
// are published before the batch that made them commits, and that read may come a moment
// early, so it is asked again until it holds what the item said.

import * as api from "../api.js";
import * as badges from "../badges.js";
import { h, clear, userText } from "../dom.js";
import { t } from "../i18n.js";
import * as live from "../live.js";
import * as push from "../push.js";
import { go } from "../router.js";
import { announce, busy, empty, problemText, spinner, toast } from "../ui.js";
import { avatar, nameOf, shortTime } from "../elements/listing.js";

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const KINDS = ["mention", "reply", "reaction", "follow", "message", "moderation"];

/** Where a notification leads: the post, the conversation or the person. */
function target(n) {
  const first = n.actors[0];
  if (n.kind === "follow" && first) return `/people/${encodeURIComponent(first.handle || first.id)}`;
  if (n.conversation_id) return `/messages/${n.conversation_id}`;
  if (n.post_id) return `/posts/${n.post_id}`;
  if (n.target_type === "post") return `/posts/${n.target_id}`;
  return null;
}

/** The sentence: who did what (the catalog's words around the people's names). */
function sentence(n) {
  const name = nameOf(n.actors[0]) || t("notifications.someone");
  const others = Math.max(0, n.count - 1);
  const on = n.target_type === "comment" ? "comment" : n.target_type === "message" ? "message" : "post";
  switch (n.kind) {
    case "follow":
      return t("notifications.follow", { name });
    case "reply":
      return t("notifications.reply", { name });
    case "reaction":
      return others ? t(`notifications.reaction_more.${on}`, { name, count: others }) : t(`notifications.reaction.${on}`, { name });
    case "mention":
      return t(`notifications.mention.${on}`, { name });
    case "message":
      return t("notifications.message", { name, count: n.count });
    case "moderation":
      if (n.decision && n.decision.appeal) return t(`notifications.appeal.${n.decision.appeal}`);
      return t(`notifications.moderation.${n.target_type}`);
    default:
      return t("notifications.other");
  }
}

function item(n, markRead) {
  const href = target(n);
  const text = h("span", { class: "notification-text" }, sentence(n));
  const li = h(
    "li",
    { class: `notification${n.read ? "" : " unread"}`, "data-notification": n.id },
    avatar(n.actors[0], nameOf(n.actors[0]) || "!"),
    h(
      "div",
      { class: "notification-main" },
      href ? h("a", { href, onclick: () => !n.read && markRead(n, li) }, text) : text,
      n.kind === "moderation" && n.state ? h("span", { class: "chip" }, t(`notifications.state.${n.state}`)) : null,
      n.reason ? userText(n.reason, "p", { class: "muted small" }) : null,
      h("p", { class: "meta small" }, shortTime(n.at), n.read ? null : h("span", { class: "visually-hidden" }, t("notifications.unread_one"))),
    ),
    n.read ? null : h("button", { type: "button", class: "link", onclick: () => markRead(n, li) }, t("notifications.mark_read")),
  );
  return li;
}

async function list(container) {
  const items = h("ul", { class: "notifications", "aria-labelledby": "notifications-title" });
  const more = h("button", { type: "button", class: "link", hidden: true }, t("notifications.more"));
  const status = h("p", { class: "muted", role: "status" });
  const markAll = h("button", { type: "button" }, t("notifications.mark_all"));
  const shown = new Map(); // id -> notification
  let cursor = null;

  async function markRead(n, li) {
    try {
      await api.post("/v1/notifications/read", { ids: [n.id] });
      n.read = true;
      badges.notificationsRead([n.id]);
      li.replaceWith(item(n, markRead));
    } catch (error) {
      status.textContent = problemText(error);
    }
  }

  function draw(page, { append = false } = {}) {
    if (!append) {
      shown.clear();
      clear(items);
    }
    for (const n of page.items) {
      if (shown.has(n.id)) continue;
      shown.set(n.id, n);
      items.append(item(n, markRead));
    }
    if (!shown.size) items.append(h("li", {}, empty("notifications.empty")));
    cursor = page.next_cursor;
    more.hidden = !cursor;
  }

  async function first() {
    const page = await api.get("/v1/notifications", { limit: 30 });
    status.textContent = page.offline ? t("shell.offline") : "";
    draw(page);
    badges.seedNotifications(page);
    return page;
  }

  markAll.addEventListener("click", async () => {
    try {
      await api.post("/v1/notifications/read", {});
      badges.notificationsRead();
      for (const n of shown.values()) n.read = true;
      draw({ items: [...shown.values()], next_cursor: cursor });
      status.textContent = t("notifications.all_read");
    } catch (error) {
      status.textContent = problemText(error);
    }
  });
  more.addEventListener("click", async () => {
    more.replaceChildren(spinner());
    try {
      draw(await api.get("/v1/notifications", { limit: 30, cursor }), { append: true });
    } catch (error) {
      status.textContent = problemText(error);
    } finally {
      more.replaceChildren(t("notifications.more"));
    }
  });

  // A live item: read the first page until it shows the item as the item said.
  let asking = null;
  async function refresh(expected) {
    for (let i = 0; i < 8; i += 1) {
      let page;
      try {
        page = await first();
      } catch {
        return; // offline: the gateway's resume brings the item again
      }
      const found = page.items.find((n) => n.id === expected.id);
      if (found && new Date(found.at) >= new Date(expected.at) && found.read === expected.read) {
        if (!found.read) announce(sentence(found));
        return;
      }
      await wait(250);
    }
  }

  clear(
    container,
    h(
      "div",
      { class: "notifications-head" },
      h("h1", { id: "notifications-title" }, t("notifications.title")),
      h("div", { class: "row" }, markAll, h("a", { class: "button", href: "/notifications?view=settings" }, h("span", { "aria-hidden": "true" }, "⚙"), t("notifications.settings.link"))),
    ),
    status,
    items,
    h("p", {}, more),
  );
  status.replaceChildren(spinner());
  try {
    await first();
  } catch (error) {
    status.textContent = problemText(error);
  }
  const off = [
    live.on("notification", (entry) => {
      asking = (asking || Promise.resolve()).then(() => refresh(entry.notification));
    }),
    live.on("notification.removed", (entry) => {
      shown.delete(entry.notification_id);
      items.querySelector(`[data-notification="${CSS.escape(entry.notification_id)}"]`)?.remove();
    }),
    live.on("reset", () => first().catch(() => {})),
  ];
  return () => off.forEach((fn) => fn());
}

/** Pushes to this device while the app is closed: its state, and the switch. */
function pushSection() {
  const status = h("p", { role: "status", id: "push-state" }, spinner());
  const button = h("button", { type: "button", hidden: true, "aria-describedby": "push-state" });
  let current = "off";
  function show(value) {
    current = value;
    status.textContent = t(`notifications.push.state.${value}`);
    button.hidden = value === "unsupported" || value === "blocked";
    button.textContent = t(value === "on" ? "notifications.push.disable" : "notifications.push.enable");
  }
  button.addEventListener("click", async () => {
    button.disabled = true;
    const wanted = current === "on" ? "off" : "on";
    try {
      show(await (wanted === "on" ? push.enable() : push.disable()));
      if (current === wanted) toast(t(`notifications.push.done.${wanted}`));
    } catch {
      toast(t(`notifications.push.failed.${wanted}`), { error: true });
    } finally {
      button.disabled = false;
    }
  });
  push.state().then(show, () => show("off"));
  return h(
    "section",
    { class: "card stack push-settings", "aria-labelledby": "push-title" },
    h("h2", { id: "push-title" }, t("notifications.push.title")),
    h("p", { class: "hint muted small" }, t("notifications.push.hint")),
    status,
    button,
  );
}

async function settings(container) {
  const boxes = new Map(KINDS.map((kind) => [kind, h("input", { type: "checkbox", id: `kind-${kind}`, name: kind })]));
  const following = h("input", { type: "checkbox", id: "only-following" });
  const form = h(
    "form",
    { class: "card stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    h(
      "fieldset",
      { class: "kinds column" },
      h("legend", {}, t("notifications.settings.kinds")),
      KINDS.map((kind) => h("label", { class: "choice", for: `kind-${kind}` }, boxes.get(kind), t(`notifications.kind.${kind}`))),
    ),
    h("label", { class: "choice", for: "only-following" }, following, t("notifications.settings.only_following")),
    h("p", { class: "hint muted small" }, t("notifications.settings.only_following_hint")),
    h("button", { type: "submit", class: "primary" }, t("notifications.settings.save")),
  );
  clear(
    container,
    h(
      "div",
      { class: "narrow" },
      h("p", {}, h("a", { href: "/notifications" }, h("span", { "aria-hidden": "true" }, "← "), t("notifications.settings.back"))),
      h("h1", {}, t("notifications.settings.title")),
      form,
      pushSection(),
    ),
  );
  const current = await api.get("/v1/notifications/settings");
  for (const [kind, box] of boxes) box.checked = !current.disabled.includes(kind);
  following.checked = current.only_following;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      try {
        const disabled = KINDS.filter((kind) => !boxes.get(kind).checked);
        await api.put("/v1/notifications/settings", { disabled, only_following: following.checked });
        toast(t("notifications.settings.saved"));
        await go("/notifications");
      } catch (error) {
        const top = form.querySelector(".form-error");
        top.textContent = problemText(error);
        top.hidden = false;
      }
    });
  });
}

export default async function notifications(container, { query }) {
  if (query.view === "settings") return settings(container);
  return list(container);
}
