// aefi's only script besides htmx (the CSP allows no inline script and no eval).
"use strict";

// A request from an element with data-field-param="NAME" carries NAME = the field that
// triggered it: the changed input's name, or the "field" of a custom event's detail (the
// intake form's field check posts _field so the server answers for that field).
document.addEventListener("htmx:configRequest", function (e) {
  var elt = e.detail.elt;
  var param = elt && elt.dataset ? elt.dataset.fieldParam : null;
  if (!param) return;
  var ev = e.detail.triggeringEvent;
  var field = (ev && ev.detail && ev.detail.field) || (ev && ev.target && ev.target.name) || "";
  e.detail.parameters[param] = field;
});

// Forms that lead to the fix (templates/components/form_errors.html): after a failed
// submit the error summary takes the focus (full page load, or an htmx swap that brought
// one), a summary link takes the focus to its field, and a field whose message the server
// rendered without ids (older forms) gets aria-invalid / aria-describedby here.
(function () {
  var CONTROLS = "input:not([type=hidden]), select, textarea";

  function describe(root) {
    var seq = 0;
    root.querySelectorAll(".invalid .field-error, label .field-error").forEach(function (msg) {
      var box = msg.closest("label, fieldset");
      if (!box) return;
      if (!msg.id) msg.id = "err-auto-" + (++seq) + "-" + Date.now();
      box.querySelectorAll(CONTROLS).forEach(function (c) {
        if (c.hasAttribute("aria-invalid")) return; // the server described it already
        c.setAttribute("aria-invalid", "true");
        var ids = (c.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        if (ids.indexOf(msg.id) < 0) ids.push(msg.id);
        c.setAttribute("aria-describedby", ids.join(" "));
      });
    });
  }

  function focusSummary(root) {
    var summary = root.querySelector ? root.querySelector("[data-error-summary]") : null;
    if (!summary && root.matches && root.matches("[data-error-summary]")) summary = root;
    // Only a summary that just arrived: a later swap (a field check) must not steal focus.
    if (!summary || summary.dataset.shown) return false;
    summary.dataset.shown = "1";
    summary.focus();
    summary.scrollIntoView({ block: "start" });
    return true;
  }

  function fieldOf(link) {
    var id = decodeURIComponent((link.getAttribute("href") || "").slice(1));
    var target = id ? document.getElementById(id) : null;
    if (!target && link.dataset.field) {
      target = document.querySelector('[name="' + link.dataset.field.replace(/"/g, "") + '"]');
    }
    if (target && !target.matches(CONTROLS)) {
      var inside = target.querySelector(CONTROLS);
      var box = target.closest("label, fieldset, section") || target;
      target = inside || box.querySelector(CONTROLS) || target;
    }
    return target;
  }

  document.addEventListener("click", function (e) {
    var link = e.target.closest ? e.target.closest("[data-error-summary] a[href^='#']") : null;
    if (!link) return;
    var field = fieldOf(link);
    if (!field) return;
    e.preventDefault();
    var details = field.closest("details");
    if (details) details.open = true;
    var label = field.closest("label, fieldset") || field;
    label.scrollIntoView({ block: "center" });
    field.focus({ preventScroll: true });
  });

  function ready() {
    describe(document);
    focusSummary(document);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();

  document.addEventListener("htmx:afterSettle", function (e) {
    var root = e.detail && e.detail.elt ? e.detail.elt : document;
    describe(root);
    focusSummary(root);
  });
})();
