// Draws an instance's process diagram with bpmn-js (the navigated viewer, served from /static/vendor)
// and marks where the instance stands. The page gives the JSON URL in data-diagram-url; the answer
// holds the BPMN XML and the element ids: completed, current, the sequence flows passed and, where
// the page asks for it, errored (tasks stopped by an error).
(function () {
  "use strict";

  var FOCUS_SCALE = 0.75;
  var MARGIN = 20;

  var say = window.orderlyDiagramMessage;

  function mark(viewer, ids, marker) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    (ids || []).forEach(function (id) {
      if (registry.get(id)) {
        canvas.addMarker(id, marker);
      }
    });
  }

  // Centre on a value, but keep the view over the drawing where the drawing is larger than the view.
  function clamp(centred, low, size, view) {
    if (size <= view) {
      return centred;
    }
    return Math.max(low - MARGIN, Math.min(centred, low + size + MARGIN - view));
  }

  function focusOn(canvas, element) {
    var box = canvas.viewbox();
    var width = box.outer.width / FOCUS_SCALE;
    var height = box.outer.height / FOCUS_SCALE;
    canvas.viewbox({
      x: clamp(element.x + element.width / 2 - width / 2, box.inner.x, box.inner.width, width),
      y: clamp(element.y + element.height / 2 - height / 2, box.inner.y, box.inner.height, height),
      width: width,
      height: height
    });
  }

  function showCurrent(viewer, current) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    var first = (current || []).map(function (id) { return registry.get(id); }).filter(Boolean)[0];
    if (first) {
      focusOn(canvas, first);
    } else {
      canvas.zoom("fit-viewport");
    }
  }

  // Where the eye should go first: a failed task, else where a token stands.
  function focusIds(data) {
    return (data.errored || []).concat(data.current || []);
  }

  function wireTools(container, viewer, data) {
    var section = container.parentNode;
    section.querySelectorAll("[data-diagram-action]").forEach(function (button) {
      button.addEventListener("click", function () {
        if (button.getAttribute("data-diagram-action") === "fit") {
          viewer.get("canvas").zoom("fit-viewport");
        } else {
          showCurrent(viewer, focusIds(data));
        }
      });
    });
  }

  function draw(container) {
    var url = container.getAttribute("data-diagram-url");
    var viewer = null;
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the server answered " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var message = container.querySelector(".diagram-message");
        if (message) {
          message.remove();
        }
        viewer = new window.BpmnJS({ container: container });
        return viewer.importXML(data.xml).then(function () {
          mark(viewer, data.completed, "completed");
          mark(viewer, data.flows, "completed");
          mark(viewer, data.current, "current");
          mark(viewer, data.errored, "errored");
          showCurrent(viewer, focusIds(data));
          wireTools(container, viewer, data);
          container.setAttribute("data-diagram-state", "ready");
        });
      })
      .catch(function (error) {
        if (viewer) {
          viewer.destroy();  // no empty canvas: the message alone
        }
        container.setAttribute("data-diagram-state", "failed");
        say(container, "The diagram cannot be shown: " + (error && error.message ? error.message : error));
      });
  }

  function start() {
    document.querySelectorAll("[data-diagram-url]").forEach(function (container) {
      if (window.BpmnJS) {
        draw(container);
      } else {
        container.setAttribute("data-diagram-state", "failed");
        say(container, "The diagram viewer is not installed (run make setup).");
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
