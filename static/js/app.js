// Small enhancements that work without inline script (so a strict CSP can stay on).
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
});
