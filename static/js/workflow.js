// The workflow page: activate/deactivate, Run now (test), live run tables, usage, copy buttons.
// Everything goes through the REST API with the browser session and its CSRF token. The run
// tables follow the workflow's websocket (/ws/workflows/<id>/, SPEC §7); only while no
// websocket is connected do they fall back to polling.
(function () {
  "use strict";

  var TERMINAL = ["completed", "partial", "failed", "cancelled"];
  var POLL_MS = 1500;
  var IDLE_POLL_MS = 10000;

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function csrfToken() {
    var input = $("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function api(method, path, body) {
    var options = { method: method, credentials: "same-origin",
                    headers: { "Accept": "application/json", "X-CSRFToken": csrfToken() } };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    return fetch(path, options).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { ok: res.ok, status: res.status, data: data };
      });
    });
  }

  function errorMessage(result) {
    var err = result.data && result.data.error;
    return err ? err.message : "The server answered " + result.status + ".";
  }

  function formatTimes(root) {
    $all("time[datetime]", root).forEach(function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when)) { return; }
      var options = { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
                      hour12: false };
      var tz = el.getAttribute("data-tz");
      if (tz) { options.timeZone = tz; options.weekday = "short"; options.timeZoneName = "short"; }
      try { el.textContent = when.toLocaleString(undefined, options); } catch (e) { /* unknown zone: keep ISO */ }
      el.title = el.getAttribute("datetime");
    });
  }

  // -- activation ------------------------------------------------------------------------
  function showActivationErrors(result) {
    var box = $("#activation-errors");
    var list = $("ul", box);
    list.innerHTML = "";
    var errors = (result.data && result.data.error && result.data.error.details &&
                  result.data.error.details.errors) || [];
    if (!errors.length) { errors = [{ node: null, field: null, message: errorMessage(result) }]; }
    errors.forEach(function (e) {
      var li = document.createElement("li");
      if (e.node) {
        var code = document.createElement("code");
        code.textContent = e.node;
        li.appendChild(code);
        li.appendChild(document.createTextNode(" "));
      }
      if (e.field) {
        var field = document.createElement("span");
        field.className = "muted";
        field.textContent = e.field + ": ";
        li.appendChild(field);
      }
      li.appendChild(document.createTextNode(e.message));
      list.appendChild(li);
    });
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
  }

  function changeState(action, button) {
    button.disabled = true;
    api("POST", "/api/v1/workflows/" + workflowId + "/" + action, {}).then(function (result) {
      if (result.ok) { window.location.reload(); return; }
      button.disabled = false;
      showActivationErrors(result);
    }, function () {
      button.disabled = false;
      showActivationErrors({ status: 0, data: { error: { message: "The server could not be reached." } } });
    });
  }

  // -- runs ----------------------------------------------------------------------------------
  function cell(content, className) {
    var td = document.createElement("td");
    if (typeof content === "string") { td.textContent = content; } else if (content) { td.appendChild(content); }
    if (className) { td.className = className; }
    return td;
  }

  function runRow(run) {
    var tr = document.createElement("tr");
    tr.setAttribute("data-run", run.id);
    tr.setAttribute("data-status", run.status);
    var first = document.createElement("span");
    var link = document.createElement("a");
    link.href = "/runs/" + run.id;
    link.title = run.id;
    var code = document.createElement("code");
    code.textContent = run.id.slice(0, 8);
    link.appendChild(code);
    first.appendChild(link);
    if (run.mode === "test") {
      var badge = document.createElement("span");
      badge.className = "badge-test";
      badge.textContent = "test";
      first.appendChild(document.createTextNode(" "));
      first.appendChild(badge);
    }
    tr.appendChild(cell(first));
    var status = document.createElement("span");
    status.className = "status status-" + run.status;
    status.textContent = run.status;
    tr.appendChild(cell(status));
    tr.appendChild(cell(run.trigger_type));
    var started = document.createElement("span");
    var time = document.createElement("time");
    time.setAttribute("datetime", run.started_at || run.created_at);
    started.appendChild(time);
    if (!run.started_at) {
      var queued = document.createElement("span");
      queued.className = "muted small";
      queued.textContent = " queued";
      started.appendChild(queued);
    }
    tr.appendChild(cell(started));
    tr.appendChild(cell(run.duration_ms === null || run.duration_ms === undefined ? "—" : run.duration_ms + " ms"));
    tr.appendChild(cell(run.successful_nodes + " / " + run.failed_nodes));
    return tr;
  }

  function renderRuns(mode, runs) {
    var section = $("#" + mode + "-runs");
    var table = $("table", section);
    var tbody = $("tbody", table);
    tbody.innerHTML = "";
    runs.forEach(function (run) { tbody.appendChild(runRow(run)); });
    table.hidden = runs.length === 0;
    $("[data-empty]", section).hidden = runs.length > 0;
    formatTimes(section);
  }

  function unfinished() {
    return $all("tr[data-status]").some(function (tr) {
      return TERMINAL.indexOf(tr.getAttribute("data-status")) < 0;
    });
  }

  var pollTimer = null;
  var live = false;
  var refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) { return; }
    refreshTimer = window.setTimeout(function () { refreshTimer = null; refresh(); }, 120);
  }

  // -- live: the workflow's event stream -------------------------------------------------------
  function connectLive(delay) {
    if (!window.WebSocket) { schedulePoll(); return; }
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    var socket;
    try {
      socket = new WebSocket(proto + "//" + window.location.host + "/ws/workflows/" + workflowId + "/");
    } catch (e) { schedulePoll(); return; }
    socket.onopen = function () {
      live = true;
      delay = 500;
      if (pollTimer) { window.clearTimeout(pollTimer); pollTimer = null; }
      root.setAttribute("data-live", "true");
    };
    socket.onmessage = function (message) {
      var event;
      try { event = JSON.parse(message.data); } catch (e) { return; }
      // a snapshot after (re)connecting, a run that changed status, a run that began
      if (event.type === "snapshot" || event.type === "run.status" ||
          (event.type === "node.status" && !$("tr[data-run=\"" + event.run_id + "\"]"))) {
        refreshSoon();
      }
    };
    socket.onclose = function () {
      live = false;
      root.setAttribute("data-live", "false");
      schedulePoll();
      window.setTimeout(function () { connectLive(Math.min((delay || 500) * 2, 10000)); }, delay || 500);
    };
  }
  function refresh() {
    if (pollTimer) { window.clearTimeout(pollTimer); pollTimer = null; }
    var modes = ["live", "test"];
    Promise.all(modes.map(function (mode) {
      return api("GET", "/api/v1/workflows/" + workflowId + "/runs?mode=" + mode);
    }).concat([api("GET", "/api/v1/workflows/" + workflowId)])).then(function (results) {
      modes.forEach(function (mode, i) {
        if (results[i].ok) { renderRuns(mode, results[i].data.results.slice(0, 25)); }
      });
      if (results[2].ok && results[2].data.usage) { renderUsage(results[2].data.usage); }
      schedulePoll();
    }, schedulePoll);
  }

  // Without a websocket: quick while a run is unfinished, otherwise slowly.
  function schedulePoll() {
    if (pollTimer || live) { return; }
    pollTimer = window.setTimeout(function () {
      if (document.hidden) { pollTimer = null; schedulePoll(); return; }
      refresh();
    }, unfinished() ? POLL_MS : IDLE_POLL_MS);
  }

  function renderUsage(usage) {
    var today = $("#usage-today");
    if (!today) { return; }
    today.textContent = usage.runs_today;
    var limit = usage.max_runs_per_day;
    if (!limit) { return; }
    var share = usage.runs_today / limit;
    var meter = $("#usage-meter");
    meter.classList.toggle("usage-warning", share >= 0.8);
    meter.classList.toggle("usage-full", usage.runs_today >= limit);
    $("#usage-bar").style.width = Math.min(100, Math.round(share * 100)) + "%";
    $(".meter", meter).setAttribute("aria-valuenow", usage.runs_today);
    $("#usage-note").textContent = usage.runs_today >= limit ? "Limit reached: triggers are refused until midnight UTC."
      : share >= 0.8 ? "Approaching the daily limit." : "Counted since midnight UTC.";
  }

  // -- run now ---------------------------------------------------------------------------------
  function runNow(event) {
    event.preventDefault();
    var textarea = $("#run-input");
    var message = $("#run-input-error");
    var result = $("#run-now-result");
    var raw = textarea.value.trim() || "{}";
    message.hidden = true;
    textarea.classList.remove("invalid");
    textarea.removeAttribute("aria-invalid");
    try {
      JSON.parse(raw);
    } catch (e) {
      message.textContent = "Input is not valid JSON: " + e.message;
      message.hidden = false;
      textarea.classList.add("invalid");
      textarea.setAttribute("aria-invalid", "true");
      return;
    }
    var button = $("#run-now-button");
    button.disabled = true;
    result.textContent = "Starting…";
    // The user's text goes to the server verbatim, so the server checks it too.
    api("POST", "/api/v1/workflows/" + workflowId + "/execute", '{"mode": "test", "input": ' + raw + "}")
      .then(function (res) {
        button.disabled = false;
        if (!res.ok) {
          result.textContent = "";
          message.textContent = errorMessage(res);
          message.hidden = false;
          textarea.classList.add("invalid");
          return;
        }
        result.textContent = "Started test run " + res.data.run_id.slice(0, 8) + ".";
        refresh();
      }, function () {
        button.disabled = false;
        result.textContent = "The server could not be reached.";
      });
  }

  // -- copy ------------------------------------------------------------------------------------
  function copyBySelection(text) {  // for pages served over plain http from another host
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    try { document.execCommand("copy"); } finally { document.body.removeChild(area); }
  }

  function copy(button) {
    var input = button.parentNode.querySelector("input");
    var text = button.hasAttribute("data-copy-text") ? button.getAttribute("data-copy-text") : input.value;
    var done = function () {
      button.textContent = "Copied";
      button.classList.add("copied");
      window.setTimeout(function () { button.textContent = "Copy"; button.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { copyBySelection(text); done(); });
    } else {
      copyBySelection(text);
      done();
    }
  }

  var root = document.getElementById("workflow-page");
  if (!root) { return; }
  var workflowId = root.getAttribute("data-workflow-id");
  formatTimes(document);

  $all("[data-action=activate]").forEach(function (b) {
    b.addEventListener("click", function () { changeState("activate", b); });
  });
  var dialog = $("#confirm-deactivate");
  $all("[data-action=deactivate]").forEach(function (b) {
    b.addEventListener("click", function () { dialog.showModal(); });
    dialog.addEventListener("close", function () {
      if (dialog.returnValue === "confirm") { changeState("deactivate", b); }
    });
  });
  var form = $("#run-now-form");
  if (form) { form.addEventListener("submit", runNow); }
  $all("[data-copy]").forEach(function (b) { b.addEventListener("click", function () { copy(b); }); });
  $all("input[readonly]").forEach(function (i) { i.addEventListener("focus", function () { i.select(); }); });
  connectLive(500);
})();
