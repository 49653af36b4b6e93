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
// The header's menu button (phones and tablets, where aefi.css hides the menu behind it):
// opens and closes the menu, keeps aria-expanded true to what shows; Escape closes it and
// gives the focus back to the button.
(function () {
  function toggleOf(header) {
    return header ? header.querySelector(".menu-toggle") : null;
  }
  function setOpen(header, open) {
    var button = toggleOf(header);
    if (!button) return;
    header.classList.toggle("menu-open", open);
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest ? e.target.closest("header.top .menu-toggle") : null;
    if (!button) return;
    var header = button.closest("header.top");
    setOpen(header, !header.classList.contains("menu-open"));
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") return;
    var header = document.querySelector("header.top.menu-open");
    if (!header) return;
    setOpen(header, false);
    toggleOf(header).focus();
  });
})();

// Tables as cards where they do not fit: on a phone always, elsewhere when a table is
// wider than the space it has (a tablet and a many-column list). Each cell gets its
// column's heading as data-label, which aefi.css shows before the cell's content when the
// rows are stacked (class "stacked"). Done again after every htmx swap and on a resize.
(function () {
  var phone = window.matchMedia("(max-width: 640px)");
  function headings(table) {
    var head = table.tHead;
    if (!head || !head.rows.length) return null;
    var names = [];
    var cells = head.rows[head.rows.length - 1].cells;
    for (var i = 0; i < cells.length; i++) {
      // The heading as read (a sort mark is aria-hidden: "Sent ↕" is not the column's name).
      var copy = cells[i].cloneNode(true);
      var hidden = copy.querySelectorAll("[aria-hidden=true]");
      for (var h = 0; h < hidden.length; h++) hidden[h].remove();
      var text = copy.textContent.replace(/\s+/g, " ").trim();
      for (var k = 0; k < (cells[i].colSpan || 1); k++) names.push(text);
    }
    return names;
  }
  function labelCells(table, names) {
    var sections = [].concat([].slice.call(table.tBodies), table.tFoot ? [table.tFoot] : []);
    for (var b = 0; b < sections.length; b++) {
      for (var r = 0; r < sections[b].rows.length; r++) {
        var col = 0;
        var cells = sections[b].rows[r].cells;
        for (var c = 0; c < cells.length; c++) {
          // A cell across the whole row (the inbox's adrenaline and vital signs under its
          // entry) belongs to no one column: it takes no column's heading.
          var name = (cells[c].colSpan || 1) >= names.length ? null : names[col];
          if (name && !cells[c].hasAttribute("data-label")) cells[c].setAttribute("data-label", name);
          // A cell with nothing in it shows no heading of its own on a card.
          var blank = !cells[c].textContent.trim() && !cells[c].querySelector("input, select, button, img, svg");
          cells[c].classList.toggle("blank", blank);
          col += cells[c].colSpan || 1;
        }
      }
    }
  }
  function tooWide(table) {
    var box = table.parentElement;
    if (!box) return false;
    table.classList.remove("stacked");
    var style = getComputedStyle(box);
    var room = box.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    return table.getBoundingClientRect().width > room + 1;
  }
  function layout(root) {
    var tables = root.querySelectorAll("table.grid:not(.no-cards)");
    for (var t = 0; t < tables.length; t++) {
      var names = headings(tables[t]);
      if (!names) continue;
      labelCells(tables[t], names);
      tables[t].classList.add("cards");
      var stack = phone.matches || tooWide(tables[t]);
      tables[t].classList.toggle("stacked", stack);
    }
  }
  var pending = null;
  function later() {
    clearTimeout(pending);
    pending = setTimeout(function () { layout(document); }, 150);
  }
  document.addEventListener("DOMContentLoaded", function () { layout(document); });
  document.addEventListener("htmx:afterSettle", function () { layout(document); });
  window.addEventListener("resize", later);
})();
