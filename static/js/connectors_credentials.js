// Credential forms: show the fields of the chosen kind, add rows of custom fields.
(function () {
  "use strict";

  function init() {
    document.querySelectorAll("form.credential-form").forEach(function (form) {
      var kind = form.querySelector('[data-role="kind"]');
      if (kind) {
        kind.addEventListener("change", function () { form.setAttribute("data-kind", kind.value); });
      }
      var add = form.querySelector('[data-action="add-row"]');
      var rows = form.querySelector('[data-role="custom-rows"]');
      if (add && rows) {
        add.addEventListener("click", function () {
          var last = rows.lastElementChild;
          var row = last.cloneNode(true);
          row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
          rows.appendChild(row);
          row.querySelector("input").focus();
        });
      }
    });
    var open = document.querySelector('[data-action="open-add"]');
    if (open) {
      open.addEventListener("click", function () {
        var first = document.querySelector('#add input[name="name"]');
        if (first) setTimeout(function () { first.focus(); }, 0);
      });
    }
    document.documentElement.classList.add("js");
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
