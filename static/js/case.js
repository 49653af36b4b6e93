// The case page (CSP: no inline script). A refused step comes back with its list of what
// is missing marked data-focus-on-load: focus it and bring it into view, so a keyboard or
// screen-reader user lands on the list, and each link in it moves focus to its section.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  var target = document.querySelector("[data-focus-on-load]");
  if (target) {
    target.scrollIntoView({ block: "start" });
    target.focus({ preventScroll: true });
  }
  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest(".error-summary a[href^='#']") : null;
    if (!link) return;
    var section = document.getElementById(link.getAttribute("href").slice(1));
    if (!section) return;
    if (section.tagName === "DETAILS") section.open = true;
    var field = section.querySelector("input:not([type=hidden]), textarea, select");
    if (field) {
      e.preventDefault();
      section.scrollIntoView({ block: "start" });
      field.focus({ preventScroll: true });
    }
  });
});
