// Finding people to write to or invite: a search field (GET /v1/users, by handle or name)
// and its results as buttons. Used by "new conversation" and by a group's "invite".

import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { field, problemText } from "../../ui.js";
import { avatar, nameOf } from "../../elements/listing.js";

/**
 * peoplePicker({id, onPick, skip}) -> {element, focus()}. `skip(person)` hides people
 * already chosen or already members; `onPick(person)` is called with the API's profile.
 */
export function peoplePicker({ id, onPick, skip = () => false }) {
  const input = h("input", { type: "search", autocomplete: "off", spellcheck: "false" });
  const results = h("ul", { class: "people-results", "aria-label": t("chat.people.results") });
  const status = h("p", { class: "muted small", role: "status" });
  let timer = null;
  let asked = 0;

  async function search() {
    const query = input.value.trim();
    const mine = ++asked;
    if (!query) {
      clear(results);
      status.textContent = "";
      return;
    }
    try {
      const answer = await api.get("/v1/users", { query, limit: 8 });
      if (mine !== asked) return; // an older answer arriving late
      const me = api.session();
      const found = answer.items.filter((p) => (!me || p.id !== me.id) && !skip(p));
      status.textContent = found.length ? "" : t("chat.people.none");
      clear(
        results,
        found.map((person) =>
          h(
            "li",
            {},
            h(
              "button",
              {
                type: "button",
                class: "person-pick",
                "aria-label": t("chat.people.pick", { name: nameOf(person) }),
                onclick: () => {
                  onPick(person);
                  input.value = "";
                  clear(results);
                  input.focus();
                },
              },
              avatar(person, nameOf(person)),
              userText(person.display_name, "span", { class: "person-name" }),
              person.handle ? userText(`@${person.handle}`, "span", { class: "muted small" }) : null,
            ),
          ),
        ),
      );
    } catch (error) {
      if (mine === asked) status.textContent = problemText(error);
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 250);
  });
  input.addEventListener("keydown", (event) => {
    // Enter searches at once rather than submitting the form around the picker.
    if (event.key === "Enter") {
      event.preventDefault();
      clearTimeout(timer);
      search();
    }
  });
  const element = h("div", { class: "people-picker" }, field(id, "chat.people.find", input, "chat.people.hint"), status, results);
  return { element, focus: () => input.focus() };
}
