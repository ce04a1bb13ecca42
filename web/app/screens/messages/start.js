// Starting a conversation: a direct one with one person, or a group with a name and the
// people chosen (POST /v1/conversations), in a <dialog>. A direct one with someone I
// already write to answers that conversation, so starting it again just opens it.

import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { go } from "../../router.js";
import { field, showProblem } from "../../ui.js";
import { formDialog } from "../../elements/dialog.js";
import { nameOf } from "../../elements/listing.js";
import { peoplePicker } from "./people.js";

export function openStartDialog() {
  let kind = "direct";
  const chosen = new Map(); // user id -> profile
  const chips = h("ul", { class: "chips", "aria-label": t("chat.start.chosen") });
  const name = h("input", { type: "text", maxlength: 100, autocomplete: "off" });
  const nameField = field("start-name", "chat.start.group_name", name);
  nameField.hidden = true;

  function drawChosen() {
    clear(
      chips,
      [...chosen.values()].map((person) =>
        h(
          "li",
          { class: "chip" },
          userText(nameOf(person)),
          h(
            "button",
            {
              type: "button",
              class: "link",
              "aria-label": t("chat.start.unchoose", { name: nameOf(person) }),
              onclick: () => {
                chosen.delete(person.id);
                drawChosen();
              },
            },
            h("span", { "aria-hidden": "true" }, "×"),
          ),
        ),
      ),
    );
  }

  const picker = peoplePicker({
    id: "start-people",
    skip: (person) => chosen.has(person.id),
    onPick: (person) => {
      // A direct conversation has one other person: a new pick replaces the last.
      if (kind === "direct") chosen.clear();
      chosen.set(person.id, person);
      drawChosen();
    },
  });

  const kinds = h(
    "fieldset",
    { class: "kinds" },
    h("legend", {}, t("chat.start.kind")),
    ["direct", "group"].map((value) =>
      h(
        "label",
        { class: "choice" },
        h("input", {
          type: "radio",
          name: "start-kind",
          value,
          checked: value === kind,
          onchange: () => {
            kind = value;
            nameField.hidden = kind !== "group";
            if (kind === "direct" && chosen.size > 1) {
              const first = [...chosen.values()][0];
              chosen.clear();
              chosen.set(first.id, first);
              drawChosen();
            }
          },
        }),
        t(`chat.start.kind.${value}`),
      ),
    ),
  );

  formDialog({
    title: t("chat.start.title"),
    body: [kinds, picker.element, chips, nameField],
    submit: t("chat.start.submit"),
    className: "chat-dialog",
    focus: picker.focus,
    work: async (form) => {
      const top = form.querySelector(".form-error");
      if (!chosen.size) {
        top.textContent = t(kind === "direct" ? "chat.start.need_one" : "chat.start.need_some");
        top.hidden = false;
        return false;
      }
      try {
        const body = { kind, members: [...chosen.keys()] };
        if (kind === "group" && name.value.trim()) body.name = name.value.trim();
        return await api.post("/v1/conversations", body);
      } catch (error) {
        showProblem(form, error);
        return false;
      }
    },
  }).then((started) => started && go(`/messages/${started.id}`));
}
