// kaifuku dashboard: the timeline's bars open their progress messages, and
// a page with something running reloads its content every two seconds,
// keeping the messages the operator opened.
"use strict";
(function () {
  function wire(root) {
    root.querySelectorAll("button.bar[aria-controls]").forEach(function (b) {
      b.addEventListener("click", function () {
        var panel = document.getElementById(b.getAttribute("aria-controls"));
        if (!panel) return;
        var open = b.getAttribute("aria-expanded") !== "true";
        b.setAttribute("aria-expanded", open ? "true" : "false");
        panel.hidden = !open;
      });
    });
  }

  function openBars(root) {
    var ids = [];
    root.querySelectorAll('button.bar[aria-expanded="true"]').forEach(function (b) { ids.push(b.id); });
    return ids;
  }

  function refresh() {
    var main = document.getElementById("main");
    if (!main || main.getAttribute("data-live") !== "true") return;
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) { window.location.reload(); return null; }
        return r.text();
      })
      .then(function (html) {
        if (html === null) return;
        var doc = new DOMParser().parseFromString(html, "text/html");
        var next = doc.getElementById("main");
        if (!next) return;
        var keep = openBars(main);
        var focused = document.activeElement && document.activeElement.id;
        main.innerHTML = next.innerHTML;
        if (next.getAttribute("data-live") === "true") {
          main.setAttribute("data-live", "true");
        } else {
          main.removeAttribute("data-live");
        }
        wire(main);
        keep.forEach(function (id) {
          var b = document.getElementById(id);
          if (b) b.click();
        });
        if (focused) {
          var f = document.getElementById(focused);
          if (f) f.focus();
        }
      })
      .catch(function () { /* the next tick tries again */ })
      .then(function () { schedule(); });
  }

  function schedule() {
    var main = document.getElementById("main");
    if (main && main.getAttribute("data-live") === "true") {
      window.setTimeout(refresh, 2000);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    wire(document);
    schedule();
  });
})();
