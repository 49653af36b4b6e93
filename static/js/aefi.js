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
