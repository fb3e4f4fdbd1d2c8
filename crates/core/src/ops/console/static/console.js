// The console's only script (served as a file: the Content-Security-Policy allows no inline
// script). Progressive: every action works without it through the forms. It adds
//  - keyboard use of the queue: j/k move, x selects, a approves, r rejects, e opens the item;
//  - live updates: the server's event stream says when the held items changed (a decision in
//    the moderation room, another moderator, a new held message); the rows are then fetched
//    again with the page's filters, keeping what was selected;
//  - the same for the reports page: a report filed or closed anywhere (✅/❌ in the room,
//    another moderator) fetches its rows again.
(function () {
  "use strict";
  var form = document.getElementById("decide");
  var body = document.getElementById("rows");
  if (!form || !body) { return; }
  var current = -1;

  function rows() { return Array.prototype.slice.call(body.querySelectorAll("tr[data-item]")); }

  function mark(i) {
    var list = rows();
    list.forEach(function (r) { r.classList.remove("current"); r.removeAttribute("aria-current"); });
    if (list.length === 0) { current = -1; return; }
    current = Math.max(0, Math.min(i, list.length - 1));
    var row = list[current];
    row.classList.add("current");
    row.setAttribute("aria-current", "true");
    var box = row.querySelector("input[type=checkbox]");
    if (box) { box.focus(); }
  }

  function selected() { return form.querySelectorAll("input[name=item]:checked").length; }

  function decide(action) {
    var list = rows();
    if (selected() === 0 && list[current]) {
      var box = list[current].querySelector("input[type=checkbox]");
      if (box) { box.checked = true; }
    }
    if (selected() === 0) { return; }
    var button = document.getElementById(action);
    if (button) { form.requestSubmit(button); }
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey) { return; }
    var t = e.target;
    if (t && (t.tagName === "INPUT" && t.type === "text" || t.tagName === "TEXTAREA" || t.tagName === "SELECT")) { return; }
    var list = rows();
    switch (e.key) {
      case "j": mark(current + 1); break;
      case "k": mark(current < 0 ? 0 : current - 1); break;
      case "x":
        if (list[current]) {
          var box = list[current].querySelector("input[type=checkbox]");
          if (box) { box.checked = !box.checked; }
        }
        break;
      case "a": decide("approve"); break;
      case "r":
        if (document.getElementById("reason-text").value || document.getElementById("reason").value) {
          decide("reject");
        } else {
          document.getElementById("reason").focus();
        }
        break;
      case "e":
        if (list[current]) {
          var link = list[current].querySelector("a");
          if (link) { window.location.href = link.href; }
        }
        break;
      default: return;
    }
    e.preventDefault();
  });

  function refresh() {
    var keep = {};
    form.querySelectorAll("input[name=item]:checked").forEach(function (b) { keep[b.value] = true; });
    var was = rows()[current];
    var wasItem = was ? was.getAttribute("data-item") : null;
    fetch("/console/queue/rows" + window.location.search, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        body.innerHTML = html;
        var list = rows();
        list.forEach(function (row, i) {
          var box = row.querySelector("input[type=checkbox]");
          if (box && keep[box.value]) { box.checked = true; }
          if (row.getAttribute("data-item") === wasItem) { current = i; row.classList.add("current"); }
        });
        var n = list.length;
        document.getElementById("count").textContent =
          n + " held item" + (n === 1 ? "" : "s") + ", oldest first.";
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next change or a reload tries again */ });
  }

  if (window.EventSource) {
    var events = new EventSource("/console/events");
    events.addEventListener("queue", refresh);
  }
})();

(function () {
  "use strict";
  var form = document.getElementById("reports");
  var body = document.getElementById("report-rows");
  if (!form || !body || !window.EventSource) { return; }

  function refresh() {
    var keep = {};
    form.querySelectorAll("input[name=report]:checked").forEach(function (b) { keep[b.value] = true; });
    fetch("/console/reports/rows" + window.location.search, { credentials: "same-origin" })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        body.innerHTML = html;
        body.querySelectorAll("input[name=report]").forEach(function (b) {
          if (keep[b.value]) { b.checked = true; }
        });
        var n = body.querySelectorAll("tr[data-report]").length;
        document.getElementById("report-count").textContent =
          n + " open report" + (n === 1 ? "" : "s") + ", oldest first.";
        document.body.setAttribute("data-refreshed", String(Date.now()));
      })
      .catch(function () { /* the next change or a reload tries again */ });
  }

  var events = new EventSource("/console/events");
  events.addEventListener("reports", refresh);
})();
