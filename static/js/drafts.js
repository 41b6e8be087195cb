// Keyboard for the review of drafted instructions: A accepts, E opens the edit (Ctrl+Enter
// accepts the edited text, Escape leaves the field), R opens the reasons and 1-4 rejects with
// one. The page works without this script: every action is a plain form button.
(function () {
  "use strict";

  function form() {
    return document.querySelector("[data-draft-form]");
  }

  function submit(f, key) {
    const button = f.querySelector('[data-key="' + key + '"]');
    if (button) button.click(); // a click: htmx sends the clicked button's name and value
  }

  document.documentElement.dataset.draftKeys = "ready"; // the tests wait for it
  document.addEventListener("keydown", function (event) {
    const f = form();
    if (!f || event.altKey || event.metaKey) return;
    const typing = event.target.closest && event.target.closest("textarea, input[type=text]");
    if (typing) {
      if (event.key === "Enter" && event.ctrlKey) {
        event.preventDefault();
        submit(f, "edit");
      } else if (event.key === "Escape") {
        event.target.blur();
      }
      return;
    }
    if (event.ctrlKey) return;
    const key = event.key.toLowerCase();
    if (key === "a") {
      event.preventDefault();
      submit(f, "a");
    } else if (key === "e") {
      event.preventDefault();
      const edit = f.querySelector("[data-draft-edit]");
      edit.open = true;
      const field = edit.querySelector("textarea");
      field.focus();
      field.setSelectionRange(field.value.length, field.value.length);
    } else if (key === "r") {
      event.preventDefault();
      f.querySelector("[data-draft-reject]").open = true;
    } else if (/^[1-4]$/.test(key) && f.querySelector("[data-draft-reject]").open) {
      const radio = f.querySelector('[data-reason-key="' + key + '"]');
      if (radio) {
        event.preventDefault();
        radio.checked = true;
        submit(f, "reject");
      }
    }
  });
})();
