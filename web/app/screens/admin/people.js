// Admin › People: find accounts by name or handle, with filters (role, suspended, limited),
// and open one to manage it (people-detail.js). The list pages on with `next_before`.
import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { field } from "../../ui.js";
import { pagedList } from "../../elements/paged-list.js";
import { problemMessage } from "../../elements/staff-forms.js";
import { personDetail, standingChips } from "./people-detail.js";

const ROLES = ["user", "moderator", "admin"];

function select(options, value) {
  return h("select", {}, options.map(([v, key]) => h("option", { value: v, selected: v === value }, t(key))));
}

export default async function people(container, { query: params = {} }) {
  const query = h("input", { type: "search", maxlength: 64, autocomplete: "off", value: params.query || "" });
  const role = select([["", "admin.people.any_role"], ...ROLES.map((r) => [r, `admin.role.${r}`])], params.role || "");
  const suspended = select([["", "admin.people.any"], ["true", "admin.people.suspended_only"], ["false", "admin.people.not_suspended"]], params.suspended || "");
  const limited = select([["", "admin.people.any"], ["true", "admin.people.limited_only"], ["false", "admin.people.not_limited"]], params.limited || "");
  const form = h(
    "form",
    { class: "card filters", role: "search" },
    field("people-query", "admin.people.query", query, "admin.people.query_hint"),
    h("div", { class: "filter-row" }, field("people-role", "admin.people.role", role), field("people-suspended", "admin.people.suspended", suspended), field("people-limited", "admin.people.limited", limited)),
    h("button", { type: "submit", class: "primary" }, t("admin.people.search")),
  );
  const list = h("ul", { class: "people-list" });
  const paged = pagedList({
    list,
    fetch: async (before) => {
      const page = await api.get("/v1/admin/users", {
        query: query.value.trim(),
        role: role.value,
        suspended: suspended.value,
        limited: limited.value,
        before,
        limit: 50,
      });
      return { items: page.items, next: page.next_before };
    },
    render: (person) => row(person),
    emptyKey: "admin.people.none",
    shown: (count) => t("admin.people.found", { count }),
    describe: problemMessage,
  });
  const listView = h("div", {}, h("h2", {}, t("admin.people.title")), form, paged.status, list, paged.more);
  const detailView = h("div", { hidden: true });
  clear(container, listView, detailView);

  function row(person) {
    return h(
      "li",
      { class: "person-row", "data-person-id": person.id },
      h(
        "button",
        { type: "button", class: "link person-open", onclick: () => open(person) },
        userText(person.display_name, "span", { class: "name" }),
      ),
      person.handle ? h("span", { class: "muted" }, "@", userText(person.handle)) : null,
      h("span", { class: "chips" }, standingChips(person)),
    );
  }

  // The filters and the person shown are in the URL (the person's row in the history
  // entry's state: there is no read of one account by id), so a redraw — the language
  // switched — or going back and forward shows the same thing.
  function listUrl() {
    const q = new URLSearchParams();
    for (const [name, control] of Object.entries({ query, role, suspended, limited })) if (control.value.trim()) q.set(name, control.value.trim());
    const qs = q.toString();
    return `/admin/people${qs ? `?${qs}` : ""}`;
  }

  let pushed = false;
  function open(person, push = true) {
    if (push) {
      const url = listUrl();
      history.pushState({ person }, "", `${url}${url.includes("?") ? "&" : "?"}person=${person.id}`);
      pushed = true;
    }
    listView.hidden = true;
    detailView.hidden = false;
    personDetail(detailView, person, {
      back: () => {
        if (pushed) {
          history.back(); // the router draws the list again from its URL
          return;
        }
        history.replaceState(null, "", listUrl());
        detailView.hidden = true;
        listView.hidden = false;
      },
      changed: (updated) => {
        history.replaceState({ person: updated }, "", location.href);
        const old = list.querySelector(`[data-person-id="${person.id}"]`);
        if (old) old.replaceWith(row(updated));
      },
    });
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    history.replaceState(null, "", listUrl());
    paged.load(true);
  });
  const shown = history.state && history.state.person;
  if (params.person && shown && shown.id === params.person) {
    open(shown, false);
    paged.load(true);
  } else {
    await paged.load(true);
  }
}
