// The manager's dashboard: live countdowns to (or since) each due time and since each escalation, a
// refusal swapped into its row, and no refresh of the lists while a manager is choosing whom to give a
// task to.
(function () {
  "use strict";

  const wordsElement = document.getElementById("countdown-words");
  const words = wordsElement ? JSON.parse(wordsElement.textContent) : null;

  // The server's clock, not the browser's: each list says when it was read (data-now), and the
  // countdowns run from there, so a browser whose clock is off still counts right.
  function offset(element) {
    const holder = element.closest("[data-now]");
    if (!holder) return 0;
    if (holder.dataset.offset === undefined) {
      holder.dataset.offset = String(Date.parse(holder.dataset.now) - Date.now());
    }
    return Number(holder.dataset.offset);
  }

  // The same words as the server's (app/web/dashboard.py _span).
  function span(minutes) {
    if (minutes < 1) return words.less;
    if (minutes < 60) return words.minutes.replace("{m}", minutes);
    const hours = Math.floor(minutes / 60);
    const rest = minutes % 60;
    if (hours < 10) {
      return rest ? words.hours_minutes.replace("{h}", hours).replace("{m}", rest) : words.hours.replace("{h}", hours);
    }
    if (hours < 48) return words.hours.replace("{h}", hours);
    return words.days.replace("{d}", Math.floor(hours / 24));
  }

  function tick() {
    if (!words) return;
    document.querySelectorAll("time[data-countdown]").forEach(function (element) {
      const due = Date.parse(element.getAttribute("datetime"));
      if (Number.isNaN(due)) return;
      const left = due - (Date.now() + offset(element));
      const overdue = left <= 0;
      // Time left rounds up, time overdue down, as on the server.
      const minutes = overdue ? Math.floor(-left / 60000) : Math.ceil(left / 60000);
      element.textContent = (overdue ? words.overdue : words.due).replace("{span}", span(minutes));
      element.classList.toggle("overdue", overdue);
    });
    document.querySelectorAll("time[data-ago]").forEach(function (element) {
      const then = Date.parse(element.getAttribute("datetime"));
      if (Number.isNaN(then)) return;
      const minutes = Math.max(0, Math.floor((Date.now() + offset(element) - then) / 60000));
      element.textContent = words.ago.replace("{span}", span(minutes));
    });
  }

  // A person-picker with someone chosen but not yet sent: refreshing the lists now would lose the choice.
  function choosing(list) {
    return Array.from(list.querySelectorAll("select[name=assignee_id]")).some(function (select) {
      return select.value !== "";
    });
  }

  // Every request of the lists says which version of them the page shows; an action that leaves the
  // page current answers with the new version.
  document.addEventListener("htmx:configRequest", function (event) {
    const watch = document.getElementById("sla-watch");
    if (watch && event.detail.elt.closest("[data-dashboard]")) {
      event.detail.parameters.seen = watch.dataset.signature;
    }
  });

  document.addEventListener("htmx:afterRequest", function (event) {
    const watch = document.getElementById("sla-watch");
    const signature = event.detail.xhr ? event.detail.xhr.getResponseHeader("X-Watch-Signature") : null;
    if (watch && signature) watch.dataset.signature = signature;
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    const element = event.detail.elt;
    if (element.id === "sla-watch" && choosing(element)) event.preventDefault();
  });

  // A refused action answers with its row (the reason in it) and a 4xx status: show it where it happened.
  // Anything else that fails says so at the top of the page.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const status = event.detail.xhr.status;
    if (status < 400 || !event.detail.elt.closest("[data-dashboard]")) return;
    const isRow = status < 500 && /^\s*<tr[\s>]/i.test(event.detail.serverResponse || "");
    if (isRow && event.detail.elt.closest("tr")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    const problem = document.getElementById("dashboard-problem");
    if (problem) {
      problem.textContent = problem.dataset.text.replace("{status}", status);
      problem.hidden = false;
    }
  });

  document.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("DOMContentLoaded", function () {
    tick();
    window.setInterval(tick, 5000);
  });
})();
