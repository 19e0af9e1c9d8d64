// The one line a diagram box says instead of a drawing (loading failed, nothing to show). Shared by
// diagram.js, heatmap.js and version_diff.js; loaded before them.
window.orderlyDiagramMessage = function (container, text) {
  "use strict";
  var message = container.querySelector(".diagram-message");
  if (!message) {
    message = document.createElement("p");
    message.className = "diagram-message";
    container.appendChild(message);
  }
  message.textContent = text;  // text, never HTML
};
