// Admin › Categories: the list by position, a category created or changed in a dialog
// (names and descriptions in each language, its position), and deleted after a
// confirmation. A deleted slug may be created again, as a new category.
import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { current, number, t } from "../../i18n.js";
import { empty, field, spinner, toast } from "../../ui.js";
import { confirmDialog, formDialog } from "../../elements/dialog.js";
import { problemMessage, showFieldProblems } from "../../elements/staff-forms.js";

const LANGS = ["en", "ru"];

function name(category) {
  return category[`name_${current()}`] || category.name_en;
}

export default async function categories(container) {
  const status = h("p", { class: "muted", role: "status" });
  const list = h("ul", { class: "rule-list" });
  const create = h("button", { type: "button", class: "primary", onclick: () => edit(null) }, t("admin.categories.create"));
  clear(container, h("div", { class: "section-head" }, h("h2", {}, t("admin.categories.title")), create), status, list);

  async function load() {
    status.replaceChildren(spinner());
    try {
      const page = await api.get("/v1/categories");
      list.replaceChildren(...page.items.map(item));
      status.replaceChildren(page.items.length ? "" : empty("admin.categories.none"));
    } catch (error) {
      status.textContent = problemMessage(error);
    }
  }

  function item(category) {
    const description = category[`description_${current()}`];
    return h(
      "li",
      { class: "card rule", "data-slug": category.slug },
      h(
        "div",
        { class: "rule-head" },
        userText(name(category), "strong", { class: "category-name" }),
        h("code", { class: "id", translate: "no" }, category.slug),
        h("span", { class: "chip" }, t("admin.categories.position"), " ", h("span", { "data-fmt": "" }, number(category.position))),
      ),
      h(
        "p",
        { class: "small muted" },
        LANGS.filter((lang) => lang !== current()).map((lang) => [t(`admin.categories.name_${lang}`), ": ", userText(category[`name_${lang}`])]),
      ),
      description ? userText(description, "p", { class: "small" }) : null,
      h(
        "div",
        { class: "row" },
        h("button", { type: "button", onclick: () => edit(category), "aria-label": t("admin.categories.edit_named", { name: name(category) }) }, t("staff.edit")),
        h("button", { type: "button", class: "danger", onclick: () => remove(category), "aria-label": t("admin.categories.delete_named", { name: name(category) }) }, t("staff.delete")),
      ),
    );
  }

  function edit(category) {
    const controls = {
      slug: h("input", { type: "text", required: true, maxlength: 40, pattern: "[a-z0-9][a-z0-9-]*", autocomplete: "off", value: category ? category.slug : "", disabled: !!category, translate: "no" }),
      position: h("input", { type: "number", required: true, min: 0, max: 10000, step: 1, value: category ? category.position : 0 }),
    };
    for (const lang of LANGS) {
      controls[`name_${lang}`] = h("input", { type: "text", required: true, maxlength: 60, lang, value: category ? category[`name_${lang}`] : "" });
      controls[`description_${lang}`] = h("textarea", { maxlength: 300, rows: 2, lang, value: category ? category[`description_${lang}`] || "" : "" });
    }
    const fields = [
      field("slug", "admin.categories.slug", controls.slug, "admin.categories.slug_hint"),
      ...LANGS.flatMap((lang) => [field(`name_${lang}`, `admin.categories.name_${lang}`, controls[`name_${lang}`]), field(`description_${lang}`, `admin.categories.description_${lang}`, controls[`description_${lang}`])]),
      field("position", "admin.categories.position", controls.position, "admin.categories.position_hint"),
    ];
    formDialog({
      title: t(category ? "admin.categories.edit_title" : "admin.categories.create_title"),
      body: fields,
      submit: t(category ? "staff.save" : "admin.categories.create"),
      work: async (form) => {
        const values = { position: controls.position.value === "" ? null : Number(controls.position.value) };
        for (const lang of LANGS) {
          values[`name_${lang}`] = controls[`name_${lang}`].value.trim();
          // An empty description is none: null removes it on a change, absent on a creation.
          values[`description_${lang}`] = controls[`description_${lang}`].value.trim() || null;
        }
        try {
          if (category) {
            await api.patch(`/v1/admin/categories/${encodeURIComponent(category.slug)}`, values);
            toast(t("admin.categories.saved"));
          } else {
            await api.post("/v1/admin/categories", { slug: controls.slug.value.trim(), ...values });
            toast(t("admin.categories.created"));
          }
          await load();
          return true;
        } catch (error) {
          showFieldProblems(form, error, "admin.categories");
          return false;
        }
      },
    });
  }

  async function remove(category) {
    const sure = await confirmDialog({
      title: t("admin.categories.delete_title", { name: name(category) }),
      text: t("admin.categories.delete_body"),
      confirm: t("staff.delete"),
    });
    if (!sure) return;
    try {
      await api.del(`/v1/admin/categories/${encodeURIComponent(category.slug)}`);
      toast(t("admin.categories.deleted"));
      await load();
    } catch (error) {
      toast(problemMessage(error), { error: true });
    }
  }

  await load();
}
