// The report-exception form: the type list shows the chosen category's types, the fields that belong
// to one type (a data change, a count) appear only for it, and the type's usual severity is named.
// Without this script every type and field is shown; the server checks everything either way.
(function () {
  const form = document.querySelector("[data-report-form]");
  if (!form) return;
  const family = form.querySelector("#family");
  const type = form.querySelector("#type");
  const usual = form.querySelector("[data-usual-severity]");

  function showTypes() {
    for (const group of type.querySelectorAll("optgroup")) {
      const shown = !family.value || group.dataset.family === family.value;
      group.hidden = !shown;
      group.disabled = !shown;
    }
    const chosen = type.selectedOptions[0];
    if (chosen && chosen.value && family.value && chosen.dataset.family !== family.value) type.value = "";
  }

  function showFields() {
    const chosen = type.selectedOptions[0];
    for (const fieldset of form.querySelectorAll("[data-for-type]")) {
      const shown = fieldset.dataset.forType === type.value;
      fieldset.hidden = !shown;
      fieldset.disabled = !shown;
    }
    usual.textContent = chosen && chosen.dataset.severity ? usual.dataset.text.replace("{severity}", chosen.dataset.severity) : "";
  }

  family.addEventListener("change", () => { showTypes(); showFields(); });
  type.addEventListener("change", () => {
    const chosen = type.selectedOptions[0];
    if (chosen && chosen.dataset.family && !family.value) { family.value = chosen.dataset.family; showTypes(); }
    showFields();
  });
  showTypes();
  showFields();
})();
