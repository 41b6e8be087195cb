// How the texts people and the model wrote are shown: Markdown rendered (sanitized on the
// server) or the raw text as written. The server sends both (labeling/templatetags/rich_text.py);
// this sets data-text-view on <html> and the CSS shows one. The choice is the reader's and is
// remembered in localStorage. Any [data-text-view-toggle] button flips it (the workspace's M
// key clicks that button).
(() => {
  "use strict";

  const KEY = "loopwork.textView";
  const root = document.documentElement;

  function stored() {
    try {
      return localStorage.getItem(KEY) === "raw" ? "raw" : "rendered";
    } catch {
      return "rendered"; // storage off (private mode, a policy): rendered, not remembered
    }
  }

  function apply(view) {
    root.dataset.textView = view;
    for (const button of document.querySelectorAll("[data-text-view-toggle]")) {
      button.setAttribute("aria-pressed", String(view === "raw"));
    }
  }

  function toggle() {
    const next = root.dataset.textView === "raw" ? "rendered" : "raw";
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // not remembered, still shown
    }
    apply(next);
  }

  apply(stored());
  document.addEventListener("click", (event) => {
    if (event.target.closest?.("[data-text-view-toggle]")) toggle();
  });
  document.addEventListener("htmx:afterSettle", () => apply(root.dataset.textView));
})();
