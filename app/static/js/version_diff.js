// Draws two versions of a process side by side with bpmn-js's navigated viewer (served from /static/vendor)
// and marks what the comparison found: on the base diagram what was removed (diff-removed) or changed
// (diff-changed), on the other what was added (diff-added) or changed. The page gives the JSON URL in
// data-diff-url (/processes/<key>/diff.json) and its messages in data-text-*; the list of changes below
// the diagrams is the page's own, and a click on an entry selects and centres the element on both sides.
(function () {
  "use strict";

  // Lanes and pools are large bands behind other shapes: marked by their outline only.
  var BANDS = ["bpmn:Lane", "bpmn:Participant"];
  var FOCUS_SCALE = 0.9;

  var say = window.orderlyDiagramMessage;

  function ids(entries) {
    return (entries || []).map(function (entry) { return entry.id; });
  }

  function mark(viewer, elementIds, marker) {
    var canvas = viewer.get("canvas");
    var registry = viewer.get("elementRegistry");
    elementIds.forEach(function (id) {
      var element = registry.get(id);
      if (!element) {
        return;  // not drawn in this version (no shape for it); the list below still names it
      }
      canvas.addMarker(id, marker);
      if (BANDS.indexOf(element.type) >= 0) {
        canvas.addMarker(id, "diff-band");
      }
    });
  }

  function draw(container, xml, marks) {
    var viewer = new window.BpmnJS({ container: container });
    return viewer.importXML(xml)
      .then(function () {
        var message = container.querySelector(".diagram-message");
        if (message) {
          message.remove();
        }
        viewer.get("canvas").zoom("fit-viewport");
        Object.keys(marks).forEach(function (marker) { mark(viewer, marks[marker], marker); });
        container.setAttribute("data-diff-state", "ready");
        return viewer;
      })
      .catch(function (error) {
        viewer.destroy();  // one side without a drawing (no diagram interchange) leaves the other usable
        container.setAttribute("data-diff-state", "failed");
        say(container, document.getElementById("version-diff").getAttribute("data-text-failed") + " " +
          (error && error.message ? error.message : error));
        return null;
      });
  }

  // Centre the element, zoomed in at least to its natural size so it can be read.
  function centre(canvas, element) {
    var points = element.waypoints || [
      { x: element.x, y: element.y }, { x: element.x + element.width, y: element.y + element.height }
    ];
    var xs = points.map(function (p) { return p.x; });
    var ys = points.map(function (p) { return p.y; });
    var scale = Math.max(canvas.zoom(), FOCUS_SCALE);
    var box = canvas.viewbox();
    var width = box.outer.width / scale;
    var height = box.outer.height / scale;
    canvas.viewbox({
      x: (Math.min.apply(null, xs) + Math.max.apply(null, xs)) / 2 - width / 2,
      y: (Math.min.apply(null, ys) + Math.max.apply(null, ys)) / 2 - height / 2,
      width: width,
      height: height
    });
  }

  function focus(viewers, id) {
    var found = false;
    viewers.forEach(function (viewer) {
      if (!viewer) {
        return;
      }
      var element = viewer.get("elementRegistry").get(id);
      var selection = viewer.get("selection");
      if (!element) {
        selection.select(null);
        return;
      }
      found = true;
      selection.select(element);
      centre(viewer.get("canvas"), element);
    });
    return found;
  }

  function wireList(root, viewers) {
    document.querySelectorAll("[data-diff-element]").forEach(function (button) {
      button.addEventListener("click", function () {
        var drawn = focus(viewers, button.getAttribute("data-diff-element"));
        button.setAttribute("data-diff-drawn", drawn ? "true" : "false");
        button.title = drawn ? "" : root.getAttribute("data-text-not-drawn");
      });
    });
  }

  function start() {
    var root = document.getElementById("version-diff");
    if (!root) {
      return;
    }
    var sides = {
      base: root.querySelector("[data-diff-side=base]"),
      other: root.querySelector("[data-diff-side=other]")
    };
    if (!window.BpmnJS) {
      root.setAttribute("data-diff-state", "failed");
      say(sides.base, root.getAttribute("data-text-no-viewer"));
      return;
    }
    fetch(root.getAttribute("data-diff-url"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the server answered " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        var changed = ids(data.changed);
        return Promise.all([
          draw(sides.base, data.base.xml, { "diff-removed": ids(data.removed), "diff-changed": changed }),
          draw(sides.other, data.other.xml, { "diff-added": ids(data.added), "diff-changed": changed })
        ]);
      })
      .then(function (viewers) {
        wireList(root, viewers);
        root.setAttribute("data-diff-state", "ready");
      })
      .catch(function (error) {
        root.setAttribute("data-diff-state", "failed");
        say(sides.base, root.getAttribute("data-text-failed") + " " + (error && error.message ? error.message : error));
      });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
