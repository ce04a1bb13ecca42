// Boot: theme, language, the session (from the refresh cookie), the shell with its
// landmarks, the router, the gateway and the service worker.

import * as api from "./api.js";
import * as badgeCounts from "./badges.js";
import { h, clear } from "./dom.js";
import * as i18n from "./i18n.js";
import { t } from "./i18n.js";
import * as live from "./live.js";
import * as push from "./push.js";
import * as router from "./router.js";
import * as theme from "./theme.js";

theme.apply();

const NAV = [
  { href: "/home", key: "nav.home", icon: "⌂", auth: "user" },
  { href: "/public", key: "nav.public", icon: "◎", auth: "any" },
  { href: "/search", key: "nav.search", icon: "⌕", auth: "any" },
  { href: "/messages", key: "nav.messages", icon: "✉", auth: "user", badge: "messages" },
  { href: "/notifications", key: "nav.notifications", icon: "♪", auth: "user", badge: "notifications" },
  { href: "/me", key: "nav.profile", icon: "☺", auth: "user", extra: true },
  { href: "/settings", key: "nav.settings", icon: "⚙", auth: "user", extra: true },
  { href: "/standing", key: "nav.standing", icon: "⚖", auth: "user", extra: true },
  { href: "/moderation", key: "nav.moderation", icon: "⚑", auth: "moderator", extra: true },
  { href: "/admin", key: "nav.admin", icon: "▤", auth: "admin", extra: true },
  { href: "/signin", key: "nav.signin", icon: "→", auth: "guest" },
  { href: "/signup", key: "nav.signup", icon: "+", auth: "guest", extra: true },
];

export const badges = { messages: 0, notifications: 0 };

function visible(item, who) {
  if (item.auth === "any") return true;
  if (item.auth === "guest") return !who;
  if (!who) return false;
  if (item.auth === "admin") return who.roles.includes("admin");
  if (item.auth === "moderator") return who.roles.includes("moderator") || who.roles.includes("admin");
  return true;
}

function navItems() {
  const who = api.session();
  return NAV.filter((item) => visible(item, who)).map((item) => {
    const href = item.href === "/me" ? `/people/${who.handle || who.id}` : item.href;
    const count = item.badge ? badges[item.badge] : 0;
    return h(
      "li",
      { class: item.extra ? "extra" : null },
      h(
        "a",
        { href, "data-nav": item.key },
        h("span", { class: "icon", "aria-hidden": "true" }, item.icon),
        h("span", {}, t(item.key)),
        count ? h("span", { class: "badge", "aria-label": t(`${item.badge}.unread`, { count }) }, i18n.number(count)) : null,
      ),
    );
  });
}

function drawNav() {
  const list = document.getElementById("nav-list");
  if (list) clear(list, navItems());
  markCurrent(location.pathname);
}

function markCurrent(pathname) {
  for (const a of document.querySelectorAll(".nav a")) {
    const here = pathname === a.getAttribute("href") || (a.getAttribute("href") !== "/" && pathname.startsWith(`${a.getAttribute("href")}/`));
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

export function setBadge(kind, count) {
  const next = Math.max(0, count);
  if (badges[kind] === next) return; // redrawing the nav would drop a focused link's focus
  badges[kind] = next;
  drawNav();
}

function themeButton() {
  const next = { light: "dark", dark: "light" };
  const button = h("button", {
    class: "icon-button",
    type: "button",
    id: "theme-toggle",
    "aria-label": t("theme.toggle"),
    onclick: () => {
      theme.choose(next[theme.shown()]);
      button.setAttribute("aria-pressed", String(theme.shown() === "dark"));
    },
    "aria-pressed": String(theme.shown() === "dark"),
  }, "◐");
  return button;
}

function languageButton() {
  const other = i18n.current() === "ru" ? "en" : "ru";
  return h("button", {
    class: "icon-button",
    type: "button",
    id: "language-toggle",
    lang: other,
    translate: "no", // a language's code is the same in every language
    "aria-label": t("language.switch_to"),
    onclick: async () => {
      await i18n.choose(other);
      if (api.session()) api.patch("/v1/me", { locale: other }).catch(() => {});
    },
  }, other.toUpperCase());
}

/** "Write a post" from any screen: the composer, loaded when first wanted. */
function writeButton() {
  if (!api.session()) return null;
  return h(
    "button",
    {
      class: "primary write-button",
      type: "button",
      onclick: () => import("./elements/composer.js").then((m) => m.openComposer()),
    },
    h("span", { "aria-hidden": "true" }, "✎"),
    h("span", { class: "label" }, t("composer.write")),
  );
}

function shell() {
  const main = h("main", { id: "main", class: "content", tabindex: "-1" });
  const layout = h(
    "div",
    { class: "layout" },
    h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: api.session() ? "/home" : "/public", translate: "no" }, h("img", { src: "/icons/icon.svg", alt: "" }), "Quark"),
      h("span", { class: "spacer" }),
      h("p", { id: "offline-state", class: "offline-state", role: "status", hidden: navigator.onLine && api.online() }, t("shell.offline")),
      writeButton(),
      languageButton(),
      themeButton(),
    ),
    h("nav", { class: "nav", "aria-label": t("nav.label") }, h("ul", { id: "nav-list" })),
    main,
  );
  const app = document.getElementById("app");
  clear(app, layout, h("div", { id: "toasts", class: "toasts" }), h("div", { id: "announcer", class: "visually-hidden", "aria-live": "polite" }));
  app.removeAttribute("aria-busy");
  drawNav();
  return main;
}

function showOffline() {
  const el = document.getElementById("offline-state");
  if (el) el.hidden = navigator.onLine && api.online();
}

async function loadProfile() {
  const who = api.session();
  if (!who) return;
  try {
    const profile = await api.get("/v1/me");
    Object.assign(who, { handle: profile.handle, display_name: profile.display_name, profile });
    if (profile.locale && i18n.LANGUAGES.includes(profile.locale) && !localStorage.getItem("quark.locale")) {
      await i18n.load(profile.locale);
    }
  } catch {
    // offline or restricted: the shell still works
  }
}

async function boot() {
  await i18n.load(i18n.initial());
  await api.refresh();
  await loadProfile();
  let main = shell();
  i18n.onChange(() => {
    main = shell();
    router.start(main);
  });
  api.onSession(async (who) => {
    if (who) {
      await loadProfile();
      live.start();
      push.sync();
    } else {
      live.stop();
      push.unsubscribe().catch(() => {});
    }
    main = shell();
    router.start(main);
  });
  router.onNavigate(markCurrent);
  api.onReachable((reachable) => {
    showOffline();
    // Back online after an offline start: turn the remembered person into a session again.
    const who = api.session();
    if (reachable && who && who.offline) api.refresh().then((ok) => ok && live.start());
  });
  addEventListener("online", () => {
    const who = api.session();
    if (who && who.offline) api.refresh().then((ok) => ok && live.start());
  });
  addEventListener("online", showOffline);
  addEventListener("offline", showOffline);
  badgeCounts.watch(setBadge);
  live.start();
  await router.start(main);
  document.documentElement.dataset.ready = "true";
  performance.mark("quark-ready"); // the shell is interactive (tests print the time to it)
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error) => console.warn("service worker", error));
    // The push service renewed this browser's subscription: store the new one.
    navigator.serviceWorker.addEventListener("message", (event) => {
      if (event.data && event.data.type === "push-changed") push.sync();
    });
    if (api.session()) push.sync();
  }
}

boot();
