// Lifeguard dashboard: live countdowns and new events without a reload.
// Every page works without this file; it only keeps what is shown fresh.
(function () {
  "use strict";

  function span(seconds) {
    var s = Math.abs(Math.round(seconds));
    var parts = [[Math.floor(s / 86400), "d"], [Math.floor(s % 86400 / 3600), "h"],
                 [Math.floor(s % 3600 / 60), "m"], [s % 60, "s"]];
    var shown = parts.filter(function (p) { return p[0]; }).slice(0, 2)
      .map(function (p) { return p[0] + p[1]; });
    return shown.join(" ") || "0s";
  }

  function tickCountdowns() {
    var now = Date.now();
    document.querySelectorAll("time.countdown").forEach(function (el) {
      var at = Date.parse(el.getAttribute("datetime"));
      if (isNaN(at)) { return; }
      var delta = (at - now) / 1000;
      el.textContent = Math.abs(delta) < 1 ? "now" : (delta > 0 ? "in " + span(delta) : span(delta) + " ago");
    });
  }

  function startFeed() {
    var live = document.getElementById("live");
    var rows = document.getElementById("event-rows");
    if (!live || !rows) { return; }
    live.hidden = false;
    var after = parseInt(live.getAttribute("data-after"), 10) || 0;
    var feed = live.getAttribute("data-feed");
    var counter = document.getElementById("live-count");
    var added = 0;
    function poll() {
      if (document.hidden) { return; }
      var url = feed + (feed.indexOf("?") < 0 ? "?" : "&") + "after=" + after;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) {
          if (!data || !data.count) { return; }
          // The rows are rendered and escaped by the server's templates.
          var holder = document.createElement("tbody");
          holder.innerHTML = data.html;
          var fresh = Array.prototype.slice.call(holder.children);
          fresh.forEach(function (tr) { tr.classList.add("fresh"); });
          for (var i = fresh.length - 1; i >= 0; i--) { rows.insertBefore(fresh[i], rows.firstChild); }
          var empty = document.querySelector("p.empty");
          if (empty) { empty.remove(); }
          after = data.last_id;
          added += data.count;
          counter.textContent = added + " new since the page loaded.";
        })
        .catch(function () { /* the next poll tries again */ });
    }
    setInterval(poll, 5000);
  }

  // The overview's health line fetches itself again every data-every seconds.
  function startHealthRefresh() {
    var line = document.getElementById("health-line");
    if (!line) { return; }
    var every = (parseInt(line.getAttribute("data-every"), 10) || 15) * 1000;
    setInterval(function () {
      if (document.hidden) { return; }
      fetch(line.getAttribute("data-refresh"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          // The fragment is rendered and escaped by the server's template.
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#health-line");
          if (fresh) { line.replaceWith(fresh); line = fresh; showLocalTimes(fresh); }
        })
        .catch(function () { /* the next round tries again */ });
    }, every);
  }

  // Every <time> also says the browser's own zone in its tooltip.
  function showLocalTimes(root) {
    (root || document).querySelectorAll("time[datetime]").forEach(function (el) {
      var at = new Date(el.getAttribute("datetime"));
      if (isNaN(at.getTime()) || el.hasAttribute("data-local")) { return; }
      el.setAttribute("data-local", "1");
      var local = at.toLocaleString(undefined, { timeZoneName: "short" });
      el.title = (el.title ? el.title + " · " : "") + local;
    });
  }

  // A dangerous control opens a confirmation with a reason before it posts.
  function wireConfirmations() {
    document.querySelectorAll("details.confirm").forEach(function (box) {
      box.addEventListener("toggle", function () {
        if (box.open) {
          var reason = box.querySelector("input[name=reason]");
          if (reason) { reason.focus(); }
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
    startFeed();
    startHealthRefresh();
    showLocalTimes();
    wireConfirmations();
  });
})();
