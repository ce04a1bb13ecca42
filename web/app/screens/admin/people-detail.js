// Admin › People › one person: roles granted and revoked, VIP granted or extended until a
// date, suspension until a time or indefinitely (and lifted), and what happened to the
// account (its activity). Every change says why: the reason is kept in their security log.
import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { date, t } from "../../i18n.js";
import { field, toast } from "../../ui.js";
import { pagedList } from "../../elements/paged-list.js";
import { endOfDay, fromLocal, problemMessage, reasonField, shortId, showFieldProblems, when } from "../../elements/staff-forms.js";

/** Roles an admin grants and revokes here (everyone holds `user`). */
const GRANTABLE = ["moderator", "admin"];

function vipNow(person) {
  return person.vip_until && new Date(person.vip_until) > new Date();
}

/** Roles, VIP, suspension and limit as chips (the list and the detail show the same). */
export function standingChips(person) {
  return [
    ...person.roles.filter((r) => r !== "user").map((r) => h("span", { class: "chip role" }, t(`admin.role.${r}`))),
    vipNow(person) ? h("span", { class: "chip vip" }, t("profile.vip")) : null,
    person.suspended ? h("span", { class: "chip state-down" }, t("admin.people.chip_suspended")) : null,
    person.limited ? h("span", { class: "chip state-degraded" }, t("admin.people.chip_limited")) : null,
  ];
}

async function run(form, work, ids) {
  const buttons = [...form.querySelectorAll("button")];
  buttons.forEach((b) => (b.disabled = true));
  try {
    await work();
    form.reset();
    return true;
  } catch (error) {
    showFieldProblems(form, error, "admin.people", ids);
    return false;
  } finally {
    buttons.forEach((b) => (b.disabled = false));
  }
}

function formError() {
  return h("p", { class: "form-error", role: "alert", hidden: true });
}

export function personDetail(container, initial, { back, changed }) {
  let person = { ...initial };
  const path = `/v1/admin/users/${person.id}`;
  const chips = h("p", { class: "chips" });
  const sections = h("div", { class: "person-sections" });
  const activity = h("ol", { class: "activity-list" });
  const activityPages = pagedList({
    list: activity,
    fetch: async (cursor) => {
      const page = await api.get(`${path}/activity`, { cursor, limit: 20 });
      return { items: page.items, next: page.next_cursor };
    },
    render: (item) => entry(item),
    emptyKey: "admin.activity.none",
    describe: problemMessage,
  });
  const heading = h("h2", { tabindex: "-1" }, userText(person.display_name));

  function update(next, messageKey) {
    person = { ...person, ...next };
    changed(person);
    draw();
    toast(t(messageKey));
    activityPages.load(true);
  }

  function rolesSection() {
    const reason = reasonField("role-reason");
    const form = h("form", { class: "card stack", novalidate: true }, h("h3", {}, t("admin.people.roles")), formError(), reason.field);
    const buttons = h("div", { class: "row" });
    for (const role of GRANTABLE) {
      const has = person.roles.includes(role);
      buttons.append(
        h(
          "button",
          {
            type: "button",
            class: has ? null : "primary",
            onclick: () =>
              run(
                form,
                async () => {
                  const answer = has
                    ? await api.del(`${path}/roles/${role}`, { query: { reason: reason.input.value } })
                    : await api.post(`${path}/roles`, { role, reason: reason.input.value });
                  update({ roles: answer.roles }, has ? "admin.people.role_revoked" : "admin.people.role_granted");
                },
                { reason: "role-reason" },
              ),
          },
          t(has ? `admin.people.revoke_${role}` : `admin.people.grant_${role}`),
        ),
      );
    }
    form.append(buttons);
    form.addEventListener("submit", (event) => event.preventDefault());
    return form;
  }

  function vipSection() {
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    const until = h("input", { type: "date", required: true, min: tomorrow });
    const reason = reasonField("vip-reason");
    const form = h(
      "form",
      { class: "card stack", novalidate: true },
      h("h3", {}, t("admin.people.vip")),
      h("p", { class: "muted" }, vipNow(person) ? [t("admin.people.vip_until"), " ", when(person.vip_until)] : t("admin.people.vip_none")),
      formError(),
      field("vip-until", "admin.people.vip_date", until, "admin.people.vip_date_hint"),
      reason.field,
      h("button", { type: "submit", class: "primary" }, t(vipNow(person) ? "admin.people.vip_extend" : "admin.people.vip_grant")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(
        form,
        async () => {
          const answer = await api.post(`${path}/vip`, { until: until.value ? endOfDay(until.value) : "", reason: reason.input.value });
          update({ vip_until: answer.vip_until }, "admin.people.vip_granted");
        },
        { until: "vip-until", reason: "vip-reason" },
      );
    });
    return form;
  }

  function suspensionSection() {
    const box = h("div", { class: "card stack" }, h("h3", {}, t("admin.people.suspension")));
    if (person.suspended) {
      box.append(
        h("p", { class: "state-line" }, person.suspended_until ? [t("admin.people.suspended_until"), " ", when(person.suspended_until)] : t("admin.people.suspended_forever")),
      );
      const reason = reasonField("unsuspend-reason");
      const lift = h("form", { class: "stack", novalidate: true }, formError(), reason.field, h("button", { type: "submit", class: "primary" }, t("admin.people.unsuspend")));
      lift.addEventListener("submit", (event) => {
        event.preventDefault();
        run(
          lift,
          async () => {
            const answer = await api.post(`${path}/unsuspend`, { reason: reason.input.value });
            update({ suspended: answer.suspended, suspended_until: answer.suspended_until }, "admin.people.unsuspended");
          },
          { reason: "unsuspend-reason" },
        );
      });
      box.append(lift);
    } else {
      box.append(h("p", { class: "muted" }, t("admin.people.not_suspended_now")));
    }
    const forever = h("input", { type: "radio", name: "suspend-length", value: "forever", id: "suspend-forever" });
    const timed = h("input", { type: "radio", name: "suspend-length", value: "until", id: "suspend-timed", checked: true });
    const until = h("input", { type: "datetime-local" });
    const reason = reasonField("suspend-reason");
    const untilField = field("suspend-until", "admin.people.suspend_until", until);
    const length = h(
      "fieldset",
      { class: "choices" },
      h("legend", {}, t("admin.people.suspend_length")),
      h("label", { class: "choice", for: "suspend-timed" }, timed, t("admin.people.suspend_timed")),
      h("label", { class: "choice", for: "suspend-forever" }, forever, t("admin.people.suspend_forever")),
    );
    const syncLength = () => {
      untilField.hidden = forever.checked;
    };
    forever.addEventListener("change", syncLength);
    timed.addEventListener("change", syncLength);
    const form = h(
      "form",
      { class: "stack", novalidate: true },
      h("h4", {}, t(person.suspended ? "admin.people.suspend_again" : "admin.people.suspend")),
      formError(),
      length,
      untilField,
      reason.field,
      h("button", { type: "submit", class: "danger" }, t(person.suspended ? "admin.people.suspend_change" : "admin.people.suspend_submit")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      run(
        form,
        async () => {
          const body = { reason: reason.input.value };
          if (!forever.checked) body.until = until.value ? fromLocal(until.value) : "";
          const answer = await api.post(`${path}/suspend`, body);
          update({ suspended: answer.suspended, suspended_until: answer.suspended_until }, "admin.people.suspended_done");
        },
        { until: "suspend-until", reason: "suspend-reason" },
      );
    });
    box.append(form);
    return box;
  }

  function entry(item) {
    const d = item.detail || {};
    return h(
      "li",
      {},
      h("p", { class: "small muted" }, when(item.at)),
      h("span", { class: "activity-kind" }, t(`admin.activity.${item.kind}`)),
      " ",
      d.role ? h("span", { class: "chip" }, t(`admin.role.${d.role}`)) : null,
      d.until ? [" ", t("admin.activity.until"), " ", when(d.until)] : null,
      d.reason ? h("p", { class: "small" }, t("admin.activity.reason"), " ", userText(d.reason)) : null,
    );
  }

  function draw() {
    clear(chips, standingChips(person));
    clear(sections, rolesSection(), vipSection(), suspensionSection());
  }

  clear(
    container,
    h("button", { type: "button", class: "link back", onclick: back }, h("span", { "aria-hidden": "true" }, "← "), t("admin.people.back")),
    heading,
    h(
      "p",
      { class: "muted" },
      person.handle ? ["@", userText(person.handle), " · "] : null,
      person.created_at ? [t("admin.people.joined"), " ", h("time", { datetime: person.created_at }, date(person.created_at)), " · "] : null,
      shortId(person.id),
    ),
    chips,
    sections,
    h("section", { class: "card" }, h("h3", {}, t("admin.people.activity")), activityPages.status, activity, activityPages.more),
  );
  draw();
  heading.focus();
  activityPages.load(true);
}
