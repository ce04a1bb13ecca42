// A group's or channel's settings, at /messages/{id}?panel=settings (a place of its own, so
// it can be linked to and survives the screen being drawn again, as on a change of
// language): its name and (channels) who may post, its members with their roles, inviting,
// removing, giving roles, and leaving. Everyone sees the members; only what the API allows
// the reader is offered: owners and admins rename, invite and remove members, the owner
// removes anyone and gives roles (handing ownership over makes them an admin), and the
// owner hands ownership over before leaving.

import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { go } from "../../router.js";
import { busy, field, problemText, showProblem } from "../../ui.js";
import { avatar, nameOf } from "../../elements/listing.js";
import { confirmDialog } from "../../elements/dialog.js";
import { peoplePicker } from "./people.js";

const ROLES = ["member", "admin", "owner"];
const ORDER = { owner: 0, admin: 1, member: 2 };

/** managePanel({conversationId, detail: () => detail, me, reload}) -> {element, draw()} */
export function managePanel({ conversationId, detail, me, reload }) {
  const body = h("div", { class: "stack" });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const element = h(
    "section",
    { class: "manage", "aria-labelledby": "manage-title" },
    h("h2", { id: "manage-title" }, t(`chat.manage.title_${detail().conversation.kind}`)),
    error,
    body,
  );

  function fail(problem) {
    error.textContent = problemText(problem);
    error.hidden = false;
  }

  // A change of mine: the next read of the conversation sees it (read-your-writes).
  async function act(work) {
    error.hidden = true;
    try {
      await work();
      await reload();
      draw();
    } catch (problem) {
      fail(problem);
    }
  }

  function renameForm(c) {
    const name = h("input", { type: "text", maxlength: 100, required: true, value: c.name || "", "data-user": "" });
    const form = h(
      "form",
      { class: "stack", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field("manage-name", `chat.manage.name_${c.kind}`, name),
      c.kind === "channel"
        ? h("label", { class: "choice" }, h("input", { type: "checkbox", id: "manage-everyone", checked: c.everyone_posts }), t("chat.manage.everyone_posts"))
        : null,
      h("button", { type: "submit" }, t("chat.manage.save")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, async () => {
        try {
          const change = { name: name.value.trim() };
          if (c.kind === "channel") change.everyone_posts = form.querySelector("#manage-everyone").checked;
          await api.patch(`/v1/conversations/${conversationId}`, change);
          await reload();
          draw();
        } catch (problem) {
          showProblem(form, problem);
        }
      });
    });
    return form;
  }

  function memberRow(userId, role, mine) {
    const person = detail().people[userId];
    const name = nameOf(person) || t("chat.message.someone");
    const controls = [];
    if (mine === "owner" && userId !== me) {
      const select = h(
        "select",
        {
          id: `role-${userId}`,
          "aria-label": t("chat.manage.role_of", { name }),
          onchange: async () => {
            const next = select.value;
            if (next === "owner" && !(await confirmDialog({ title: t("chat.manage.hand_over_confirm", { name }), confirm: t("chat.manage.hand_over") }))) {
              select.value = role;
              return;
            }
            act(() => api.put(`/v1/conversations/${conversationId}/members/${userId}/role`, { role: next }));
          },
        },
        ROLES.map((r) => h("option", { value: r, selected: r === role }, t(`chat.role.${r}`))),
      );
      controls.push(select);
    } else {
      controls.push(h("span", { class: "chip" }, t(`chat.role.${role}`)));
    }
    const removable = userId !== me && (mine === "owner" || (mine === "admin" && role === "member"));
    if (removable) {
      controls.push(
        h(
          "button",
          {
            type: "button",
            class: "link danger-link",
            "aria-label": t("chat.manage.remove_named", { name }),
            onclick: async () => {
              if (await confirmDialog({ title: t("chat.manage.remove_confirm", { name }), confirm: t("chat.manage.remove") })) {
                act(() => api.del(`/v1/conversations/${conversationId}/members/${userId}`));
              }
            },
          },
          t("chat.manage.remove"),
        ),
      );
    }
    return h(
      "li",
      { class: "member", "data-member": userId },
      avatar(person, name),
      h("span", { class: "member-name" }, userText(name), userId === me ? h("span", { class: "muted" }, " ", t("chat.manage.you")) : null),
      h("span", { class: "row member-controls" }, controls),
    );
  }

  const heading = h("h3", { id: "manage-members" });
  const list = h("ul", { class: "members", "aria-labelledby": "manage-members" });
  let drawnFor; // the reader's role the controls were drawn for

  function drawMembers() {
    const d = detail();
    const byRole = (a, b) => ORDER[a[1]] - ORDER[b[1]] || nameOf(d.people[a[0]]).localeCompare(nameOf(d.people[b[0]]));
    heading.textContent = t("chat.manage.members", { count: d.conversation.member_count });
    clear(list, Object.entries(d.members).sort(byRole).map(([id, role]) => memberRow(id, role, d.conversation.my_role)));
  }

  /** Draw what changed: the members, and the controls when the reader's role changed (what
   * is being typed in the name or the search stays otherwise). */
  function draw() {
    const c = detail().conversation;
    const mine = c.my_role;
    drawMembers();
    if (mine === drawnFor) return;
    drawnFor = mine;
    const managing = mine === "owner" || mine === "admin";
    const invite = managing
      ? peoplePicker({
          id: "manage-invite",
          skip: (person) => person.id in detail().members,
          onPick: (person) => act(() => api.post(`/v1/conversations/${conversationId}/members`, { members: [person.id] })),
        })
      : null;
    clear(
      body,
      managing ? renameForm(c) : null,
      heading,
      list,
      invite ? h("section", { "aria-labelledby": "manage-invite-title" }, h("h3", { id: "manage-invite-title" }, t("chat.manage.invite")), invite.element) : null,
      h(
        "button",
        {
          type: "button",
          class: "danger",
          onclick: async () => {
            if (!(await confirmDialog({ title: t(`chat.manage.leave_confirm_${c.kind}`), confirm: t("chat.manage.leave") }))) return;
            try {
              await api.del(`/v1/conversations/${conversationId}/members/${me}`);
              await go("/messages");
            } catch (problem) {
              fail(problem);
            }
          },
        },
        t(`chat.manage.leave_${c.kind}`),
      ),
    );
  }

  draw();
  return { element, draw };
}
