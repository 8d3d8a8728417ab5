// Connector editor: add, remove and reorder steps; show the auth fields of the chosen type.
// The form posts plainly: each step's hidden `step_key` is submitted in page order, so the
// server reads the step order from the DOM and no field needs renumbering.
(function () {
  "use strict";

  function init() {
    var form = document.getElementById("connector-form");
    var list = document.getElementById("steps");
    var template = document.getElementById("step-template");
    if (!form || !list || !template) return;
    var counter = 0;

    function steps() { return Array.prototype.slice.call(list.querySelectorAll(":scope > li.step")); }

    function freshKey() {
      var key;
      do { key = "n" + (++counter); } while (list.querySelector('li.step[data-key="' + key + '"]'));
      return key;
    }

    function renumber() {
      var all = steps();
      all.forEach(function (li, i) {
        li.querySelector(".step-num").textContent = String(i + 1);
        li.querySelector('[data-action="up"]').disabled = i === 0;
        li.querySelector('[data-action="down"]').disabled = i === all.length - 1;
        li.querySelector('[data-action="remove"]').disabled = all.length === 1;
      });
      var count = form.querySelector('[data-role="step-count"]');
      if (count) count.textContent = String(all.length);
    }

    function addStep() {
      var key = freshKey();
      var holder = document.createElement("div");
      holder.innerHTML = template.innerHTML.replace(/__KEY__/g, key).trim();
      var li = holder.firstElementChild;
      list.appendChild(li);
      renumber();
      var name = li.querySelector('input[name$="-name"]');
      if (name) {
        name.value = "step_" + steps().length;
        syncRef(name);
        name.focus();
      }
    }

    function syncRef(input) {
      var li = input.closest("li.step");
      var ref = li && li.querySelector(".step-ref");
      if (ref) ref.textContent = input.value || "name";
    }

    list.addEventListener("click", function (event) {
      var button = event.target.closest("button[data-action]");
      if (!button) return;
      var li = button.closest("li.step");
      var action = button.getAttribute("data-action");
      if (action === "up" && li.previousElementSibling) {
        list.insertBefore(li, li.previousElementSibling);
      } else if (action === "down" && li.nextElementSibling) {
        list.insertBefore(li.nextElementSibling, li);
      } else if (action === "remove" && steps().length > 1) {
        li.remove();
      }
      renumber();
      button.focus();
    });

    list.addEventListener("change", function (event) {
      if (event.target.matches('[data-role="auth-type"]')) {
        event.target.closest("li.step").setAttribute("data-auth", event.target.value);
      }
    });

    list.addEventListener("input", function (event) {
      if (event.target.matches('input[name$="-name"]')) syncRef(event.target);
    });

    var add = form.querySelector('[data-action="add-step"]');
    if (add) add.addEventListener("click", addStep);

    // Show which button was pressed while a test runs (the page waits for the real calls).
    form.addEventListener("submit", function (event) {
      var submitter = event.submitter;
      if (submitter && submitter.value === "test") {
        submitter.classList.add("busy");
        submitter.textContent = "Testing…";
      }
    });

    document.documentElement.classList.add("js");
    renumber();
    watchExecutions();
  }

  // While an execution of this connector is pending or running (e.g. started through the
  // API), refresh the recent executions table until none is.
  function watchExecutions() {
    var section = document.querySelector("#executions[data-live]");
    if (!section || !window.fetch || !window.DOMParser) return;
    setTimeout(function poll() {
      fetch(window.location.href, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (!html) return;
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("executions");
          if (!fresh) return;
          section.replaceWith(fresh);
          section = fresh;
          if (fresh.hasAttribute("data-live")) setTimeout(poll, 2000);
        })
        .catch(function () { setTimeout(poll, 5000); });
    }, 2000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
