// Draws a process's heat map on the bpmn-js navigated viewer (served from /static/vendor): each
// activity where instances stand now, or whose tasks were completed in the period, gets a badge with
// the count and the median time, and a fill by the count's step on the colour scale. The page gives
// the JSON URL in data-heatmap-url and its messages in data-text-*; every other text comes in the JSON,
// already in the reader's language.
(function () {
  "use strict";

  var BADGE_OFFSET = 12;
  var EMPTY_MIN_ZOOM = 0.6;

  var say = window.orderlyDiagramMessage;

  function badge(place) {
    var element = document.createElement("div");
    element.className = "heat-badge heat-" + place.level;
    element.setAttribute("data-element-id", place.id);
    element.setAttribute("data-count", String(place.count));
    element.setAttribute("title", place.title);
    element.setAttribute("role", "img");
    element.setAttribute("aria-label", place.title);
    var count = document.createElement("strong");
    count.className = "heat-count";
    count.textContent = String(place.count);
    element.appendChild(count);
    if (place.timed && place.visits) {
      var median = document.createElement("span");
      median.className = "heat-median";
      median.textContent = place.median_text;
      element.appendChild(median);
    }
    return element;
  }

  function paint(viewer, places) {
    var canvas = viewer.get("canvas");
    var overlays = viewer.get("overlays");
    var registry = viewer.get("elementRegistry");
    places
      .filter(function (place) {
        // an older version's step is in the table only; a step nobody stands at or finished says nothing
        return place.in_diagram && registry.get(place.id) && (place.count > 0 || (place.timed && place.visits));
      })
      .sort(function (a, b) { return a.count - b.count; })  // added later lies on top: the most crowded
      .forEach(function (place) {
        if (place.level > 0) {
          canvas.addMarker(place.id, "heat-" + place.level);
        }
        overlays.add(place.id, "heatmap", {
          position: { top: -BADGE_OFFSET, right: BADGE_OFFSET },
          scale: { min: 1 },  // zoomed out over the whole process, the badges still read at their own size
          // a time without anyone there now shows once zoomed in, so it never hides a count next to it
          show: place.count > 0 ? undefined : { minZoom: EMPTY_MIN_ZOOM },
          html: badge(place)
        });
      });
  }

  function wireTools(container, viewer) {
    container.parentNode.querySelectorAll("[data-heatmap-action=fit]").forEach(function (button) {
      button.addEventListener("click", function () {
        viewer.get("canvas").zoom("fit-viewport");
      });
    });
  }

  function draw(container) {
    var viewer = null;
    fetch(container.getAttribute("data-heatmap-url"), {
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    })
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
        return viewer.importXML(data.diagram.xml).then(function () {
          viewer.get("canvas").zoom("fit-viewport");
          paint(viewer, data.places);
          wireTools(container, viewer);
          container.setAttribute("data-heatmap-state", "ready");
        });
      })
      .catch(function (error) {
        if (viewer) {
          viewer.destroy();  // no empty canvas: the message alone (the table below still has the figures)
        }
        container.setAttribute("data-heatmap-state", "failed");
        say(container, container.getAttribute("data-text-failed") + " " +
          (error && error.message ? error.message : error));
      });
  }

  function start() {
    document.querySelectorAll("[data-heatmap-url]").forEach(function (container) {
      if (window.BpmnJS) {
        draw(container);
      } else {
        container.setAttribute("data-heatmap-state", "failed");
        say(container, container.getAttribute("data-text-no-viewer"));
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
