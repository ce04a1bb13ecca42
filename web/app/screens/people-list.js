// Who follows someone and whom they follow (/people/{handle}/followers, /following): newest
// first, a page at a time.
import * as api from "../api.js";
import { ApiError } from "../api.js";
import { h, clear, userText } from "../dom.js";
import { dateTime, t } from "../i18n.js";
import { avatar } from "../elements/avatar.js";
import { errorText } from "../elements/problems.js";
import { empty, spinner } from "../ui.js";

const LISTS = { followers: "people.followers", following: "people.following" };

export default async function peopleList(container, { handle, list }) {
  if (!LISTS[list]) {
    clear(container, h("h1", {}, t("error.not_found.title")), h("p", {}, t("error.not_found.detail")));
    return;
  }
  let person;
  try {
    person = await api.get(`/v1/users/${encodeURIComponent(handle)}`);
  } catch (error) {
    if (error.status !== 404) throw error;
    clear(container, h("h1", {}, t("profile.not_found.title")), h("p", {}, t("profile.not_found.detail")));
    return;
  }
  const base = `/people/${encodeURIComponent(person.handle)}`;
  const items = h("ul", { class: "people", "aria-labelledby": "people-title" });
  const more = h("div", { class: "more" });
  clear(
    container,
    h("p", {}, h("a", { href: base, class: "back" }, h("span", { "aria-hidden": "true" }, "← "), userText(person.display_name), " ", h("span", { class: "muted" }, "@", userText(person.handle)))),
    h("h1", { id: "people-title" }, t(LISTS[list])),
    h(
      "nav",
      { class: "tabs", "aria-label": t("people.lists") },
      Object.entries(LISTS).map(([name, key]) => h("a", { href: `${base}/${name}`, "aria-current": name === list ? "page" : null }, t(key))),
    ),
    items,
    more,
  );

  let cursor = null;
  async function page() {
    more.replaceChildren(spinner());
    try {
      const answer = await api.get(`/v1/users/${encodeURIComponent(person.handle)}/${list}`, { cursor });
      for (const other of answer.items) items.append(row(other));
      cursor = answer.next_cursor;
      if (!items.children.length) items.replaceWith(empty(list === "followers" ? "people.no_followers" : "people.no_following"));
      more.replaceChildren(cursor ? h("button", { type: "button", onclick: page }, t("people.more")) : "");
    } catch (error) {
      if (!(error instanceof ApiError)) throw error; // a bug, not an answer: let it be seen
      more.replaceChildren(h("p", { role: "alert" }, errorText("profile", error)));
    }
  }
  await page();
}

function row(other) {
  const name = other.display_name || other.handle || "";
  const since = h("time", { datetime: other.since, title: dateTime(other.since) }, dateTime(other.since));
  // Someone without a handle has no page to link to.
  const who = other.handle
    ? h("a", { href: `/people/${encodeURIComponent(other.handle)}`, class: "person-name" }, userText(name))
    : userText(name, "span", { class: "person-name" });
  return h(
    "li",
    { class: "person" },
    avatar(other),
    h("div", {}, who, other.handle ? h("span", { class: "muted" }, " @", userText(other.handle)) : null, h("p", { class: "muted small" }, t("people.since"), " ", since)),
  );
}
