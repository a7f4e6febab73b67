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

  document.addEventListener("DOMContentLoaded", function () {
    tickCountdowns();
    setInterval(tickCountdowns, 1000);
    startFeed();
  });
})();
