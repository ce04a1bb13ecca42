// Navigation without reloads: same-origin links and history, each screen loaded as a module
// when first needed (the shell stays small), focus moved to the new screen's heading and
// its title announced, as a page load would.

import * as api from "./api.js";
import { h, clear } from "./dom.js";
import { t } from "./i18n.js";
import { closeDialogs } from "./elements/dialog.js";
import { match } from "./routes.js";

let outlet = null;
let initial = true;
let current = null; // { cleanup, path }
const screens = new Map();
const changeListeners = new Set();

export function onNavigate(fn) {
  changeListeners.add(fn);
}

function allowed(auth) {
  const who = api.session();
  if (auth === "any") return true;
  if (auth === "guest") return !who;
  if (!who) return false;
  if (auth === "admin") return who.roles.includes("admin");
  if (auth === "moderator") return who.roles.includes("moderator") || who.roles.includes("admin");
  return true;
}

async function load(name) {
  if (!screens.has(name)) screens.set(name, import(`./screens/${name}.js`));
  return screens.get(name);
}

export function go(path, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", path);
  else history.pushState(null, "", path);
  return render();
}

export function refresh() {
  return render({ keepFocus: true });
}

async function render({ keepFocus = false } = {}) {
  const { pathname, search } = location;
  const found = match(pathname);
  if (current && current.cleanup) current.cleanup();
  current = null;
  closeDialogs(); // a dialog belongs to the screen that opened it
  for (const fn of changeListeners) fn(pathname);
  if (!found) {
    show(h("section", {}, h("h1", {}, t("error.not_found.title")), h("p", {}, t("error.not_found.detail"))), keepFocus);
    document.title = `${t("error.not_found.title")} · Quark`;
    return;
  }
  const { route, params } = found;
  if (!allowed(route.auth)) {
    if (route.auth === "guest") return go(api.session() ? "/home" : "/public", { replace: true });
    if (!api.session()) return go(`/signin?next=${encodeURIComponent(pathname + search)}`, { replace: true });
    show(h("section", {}, h("h1", {}, t("error.forbidden.title")), h("p", {}, t("error.forbidden.detail"))), keepFocus);
    return;
  }
  const module = await load(route.screen);
  const container = h("section", { class: `screen screen-${route.screen}` });
  const query = Object.fromEntries(new URLSearchParams(search));
  const mine = { path: pathname };
  current = mine;
  show(container, keepFocus);
  try {
    const cleanup = await module.default(container, { ...params, query });
    if (current === mine) mine.cleanup = cleanup;
    else if (cleanup) cleanup();
  } catch (error) {
    console.error(error);
    clear(container, h("h1", {}, t("error.generic.title")), h("p", { role: "alert" }, t(`error.code.${error.code}`) !== `error.code.${error.code}` ? t(`error.code.${error.code}`) : t("error.generic.detail")));
  }
  const heading = container.querySelector("h1");
  if (heading) {
    document.title = `${heading.textContent} · Quark`;
    // After in-app navigation focus moves to the new screen's heading, as a screen reader
    // expects of a new page; a real page load leaves it at the top (the skip link first).
    if (!keepFocus && !initial) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
  }
  initial = false;
}

function show(node, keepFocus) {
  clear(outlet, node);
  if (!keepFocus) window.scrollTo(0, 0);
}

let listening = false;

/** Draw the current URL's screen into `main` (again after the shell is redrawn). */
export function start(main) {
  outlet = main;
  if (listening) return render();
  listening = true;
  addEventListener("popstate", () => render());
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || event.defaultPrevented || event.button !== 0) return;
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    if (link.target || link.hasAttribute("download")) return;
    const url = new URL(link.href, location.href);
    if (url.origin !== location.origin || url.pathname.startsWith("/v1/") || url.pathname.startsWith("/media/") || url.pathname === "/docs") return;
    event.preventDefault();
    go(url.pathname + url.search);
  });
  return render();
}
