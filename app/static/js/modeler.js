// The process modeler page: bpmn-js (served from /static/vendor) edits the draft of a process, with
// SpiffWorkflow's extension elements kept (spiffworkflow_moddle.json) and the panel of modeler_panel.js.
// Saving sends the XML to the server, which checks it and answers with errors and warnings: they are
// listed, marked on the canvas, and block deploying. The page gives its URLs in data-* attributes and
// every text in #modeler-texts.
(function () {
  "use strict";

  var root = document.getElementById("modeler");
  if (!root) {
    return;
  }
  var texts = JSON.parse(document.getElementById("modeler-texts").textContent);
  var csrfToken = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var canvasBox = document.getElementById("modeler-canvas");
  var toolbar = root.querySelector(".modeler-toolbar");
  var stateLabel = root.querySelector("[data-save-state]");
  var countLink = root.querySelector("[data-problem-count]");
  var messageBox = root.querySelector("[data-message]");
  var problemList = root.querySelector("[data-problems]");
  var problemsHint = root.querySelector("[data-problems-hint]");
  var dialog = root.querySelector("[data-deploy-dialog]");
  var deployForm = root.querySelector("[data-deploy-form]");
  var deployError = root.querySelector("[data-deploy-error]");
  var discardForm = root.querySelector("[data-discard]");

  var READABLE_ZOOM = 0.9;

  var modeler = null;
  var changes = 0;        // edits since the page opened
  var savedChanges = 0;   // how many of them the server has
  var saving = null;      // the save under way (a promise)
  var hasDraft = root.getAttribute("data-has-draft") === "true";
  // When the draft this page began from was saved: a save made by someone else since is not overwritten.
  var draftStamp = null;
  var errors = [];
  var leaving = false;

  function t(name, values) {
    return texts[name].replace(/\{(\w+)\}/g, function (whole, key) {
      return values && values[key] !== undefined ? String(values[key]) : whole;
    });
  }

  function button(action) {
    return toolbar.querySelector('[data-action="' + action + '"]');
  }

  function dirty() {
    return changes !== savedChanges;
  }

  function say(text) {
    messageBox.textContent = text;  // text, never HTML
    messageBox.hidden = !text;
  }

  function showState(state) {
    stateLabel.setAttribute("data-save-state", state);
    stateLabel.textContent = t("state_" + state);
  }

  function refreshButtons() {
    var stack = modeler ? modeler.get("commandStack") : null;
    button("save").disabled = !modeler || Boolean(saving);
    button("download").disabled = !modeler;
    button("undo").disabled = !stack || !stack.canUndo();
    button("redo").disabled = !stack || !stack.canRedo();
    var deploy = button("deploy");
    deploy.disabled = !modeler || Boolean(saving) || errors.length > 0 || (!hasDraft && !dirty());
    deploy.title = errors.length ? t("fix_errors") : (!hasDraft && !dirty() ? t("nothing_to_deploy") : "");
    discardForm.hidden = !hasDraft;
  }

  function utcMinute(iso) {
    var moment = new Date(iso);
    return isNaN(moment) ? iso : moment.toISOString().slice(0, 16).replace("T", " ");
  }

  // --- talking to the server ---------------------------------------------------------------------------

  function failure(response, answer) {
    var error = new Error((answer && (answer.error || answer.message)) || t("server_answered", { status: response.status }));
    error.answer = answer || {};
    error.status = response.status;
    return error;
  }

  function request(url, body) {
    var options = { credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      options.method = "POST";
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRFToken"] = csrfToken;
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (answer) {
        if (response.ok && !answer) {
          throw new Error(t("not_json"));  // a page instead of data: the login page, most likely
        }
        if (!response.ok) {
          throw failure(response, answer);
        }
        return answer;
      });
    }, function () {
      throw new Error(t("unreachable"));
    });
  }

  function preview(markdown) {
    return request(root.getAttribute("data-preview-url"), { markdown: markdown }).then(function (answer) {
      return answer.html;
    });
  }

  // --- problems ----------------------------------------------------------------------------------------

  // The diagram element a problem names: itself, or the shape that holds it (a pool for its process,
  // an event for its event definition).
  function elementFor(id) {
    if (!id || !modeler) {
      return null;
    }
    var registry = modeler.get("elementRegistry");
    var found = registry.get(id);
    if (found) {
      return found;
    }
    return registry.filter(function (element) {
      var businessObject = element.businessObject || {};
      return (businessObject.processRef && businessObject.processRef.id === id) ||
        (businessObject.eventDefinitions || []).some(function (definition) { return definition.id === id; });
    })[0] || null;
  }

  function bounds(element) {
    if (!element.waypoints) {
      return element;
    }
    var xs = element.waypoints.map(function (point) { return point.x; });
    var ys = element.waypoints.map(function (point) { return point.y; });
    var x = Math.min.apply(null, xs), y = Math.min.apply(null, ys);
    return { x: x, y: y, width: Math.max.apply(null, xs) - x, height: Math.max.apply(null, ys) - y };
  }

  // Select the element and put it in the middle of the canvas, zoomed in far enough to read it.
  function reveal(element) {
    var canvas = modeler.get("canvas");
    modeler.get("selection").select(element);
    if (element.x !== undefined || element.waypoints) {
      if (canvas.zoom() < READABLE_ZOOM) {
        canvas.zoom(READABLE_ZOOM);
      }
      var box = canvas.viewbox();
      var area = bounds(element);
      canvas.viewbox({
        x: area.x + area.width / 2 - box.width / 2, y: area.y + area.height / 2 - box.height / 2,
        width: box.width, height: box.height
      });
    }
    root.querySelector("#modeler-panel-title").focus();
  }

  function problemItem(problem, kind) {
    var element = elementFor(problem.element_id);
    var where = problem.element_name || problem.element_id;
    var parts = [h("span", "kind", t(kind) + ": ")];
    if (where) {
      parts.push(h("strong", "", where), document.createTextNode(" — "));
    }
    parts.push(document.createTextNode(problem.message));
    if (problem.line) {
      parts.push(document.createTextNode(" (" + t("line", { line: problem.line }) + ")"));
    }
    var holder;
    if (element) {
      holder = document.createElement("button");
      holder.type = "button";
      holder.setAttribute("data-element-id", element.id);
      holder.addEventListener("click", function () {
        var current = modeler.get("elementRegistry").get(element.id);
        if (current) {
          reveal(current);
        }
      });
    } else {
      holder = h("span", "problem", "");
      if (problem.element_id) {
        holder.title = t("not_in_diagram");
      }
    }
    parts.forEach(function (part) { holder.appendChild(part); });
    var item = h("li", kind, "");
    item.appendChild(holder);
    return item;
  }

  function h(tag, css, text) {
    var element = document.createElement(tag);
    if (css) {
      element.className = css;
    }
    if (text) {
      element.textContent = text;
    }
    return element;
  }

  function markProblems(found, marker) {
    var canvas = modeler.get("canvas");
    modeler.get("elementRegistry").forEach(function (element) {
      canvas.removeMarker(element, marker);
    });
    found.forEach(function (problem) {
      var element = elementFor(problem.element_id);
      if (element && element.parent) {  // the root element has no shape to mark
        canvas.addMarker(element, marker);
      }
    });
  }

  function showProblems(answer, afterSave) {
    errors = answer.errors || [];
    var warnings = answer.warnings || [];
    problemList.replaceChildren();
    errors.forEach(function (problem) { problemList.appendChild(problemItem(problem, "error")); });
    warnings.forEach(function (problem) { problemList.appendChild(problemItem(problem, "warning")); });
    if (!errors.length && !warnings.length && afterSave) {
      problemList.appendChild(h("li", "hint", t("no_problems")));
    }
    countLink.textContent = t("counts", { errors: errors.length, warnings: warnings.length });
    countLink.classList.toggle("has-errors", errors.length > 0);
    countLink.hidden = !afterSave && !errors.length && !warnings.length;
    root.setAttribute("data-errors", String(errors.length));
    if (modeler) {
      markProblems(errors, "has-error");
      markProblems(warnings, "has-warning");
    }
    refreshButtons();
  }

  // --- the verbs ---------------------------------------------------------------------------------------

  function save() {
    if (saving) {
      return saving;
    }
    var upTo = changes;
    var failed = false;
    showState("saving");
    say("");
    saving = modeler.saveXML({ format: true }).then(function (result) {
      return request(root.getAttribute("data-save-url"), { xml: result.xml, draft_updated_at: draftStamp });
    }).then(function (answer) {
      savedChanges = upTo;
      draftStamp = answer.updated_at;
      hasDraft = true;
      root.querySelector("[data-source]").textContent = t("saved_by", {
        who: root.getAttribute("data-user"), moment: utcMinute(answer.updated_at)
      });
      problemsHint.textContent = t("checked_at_save");
      showProblems(answer, true);
      return answer;
    }, function (error) {
      failed = true;
      say(t("save_failed") + " " + error.message);
      if (error.answer && error.answer.errors && error.answer.errors.length) {
        showProblems(error.answer, true);
      }
      throw error;
    }).finally(function () {
      saving = null;
      showState(failed ? "failed" : (dirty() ? "dirty" : "saved"));
      refreshButtons();
    });
    refreshButtons();
    return saving;
  }

  function askForComment() {
    var ready = dirty() ? save() : Promise.resolve();
    ready.then(function () {
      if (errors.length) {
        say(t("fix_errors"));
        return;
      }
      deployError.hidden = true;
      dialog.showModal();
      deployForm.querySelector("textarea").focus();
    }, function () { /* the save said why */ });
  }

  function deploy(event) {
    event.preventDefault();
    var comment = deployForm.elements.comment.value.trim();
    if (!comment) {
      deployForm.elements.comment.reportValidity();
      return;
    }
    var submit = deployForm.querySelector('button[type="submit"]');
    submit.disabled = true;
    deployError.hidden = true;
    request(root.getAttribute("data-deploy-url"), { comment: comment }).then(function (answer) {
      leaving = true;
      window.location.assign(answer.versions_url);
    }, function (error) {
      deployError.textContent = t("deploy_failed") + " " + error.message;
      deployError.hidden = false;
      if (error.answer && error.answer.errors && error.answer.errors.length) {
        showProblems(error.answer, true);
      }
    }).finally(function () {
      submit.disabled = false;
    });
  }

  function download() {
    modeler.saveXML({ format: true }).then(function (result) {
      var link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([result.xml], { type: "application/xml" }));
      link.download = root.getAttribute("data-key") + ".bpmn";
      document.body.appendChild(link);
      link.click();
      link.remove();
      setTimeout(function () { URL.revokeObjectURL(link.href); }, 0);
    });
  }

  function wire() {
    button("save").addEventListener("click", function () { save().catch(function () {}); });
    button("deploy").addEventListener("click", askForComment);
    button("download").addEventListener("click", download);
    button("undo").addEventListener("click", function () { modeler.get("commandStack").undo(); });
    button("redo").addEventListener("click", function () { modeler.get("commandStack").redo(); });
    deployForm.addEventListener("submit", deploy);
    root.querySelector('[data-action="cancel-deploy"]').addEventListener("click", function () { dialog.close(); });
    discardForm.addEventListener("submit", function (event) {
      if (!window.confirm(discardForm.getAttribute("data-confirm"))) {
        event.preventDefault();
        return;
      }
      leaving = true;
    });
    document.addEventListener("keydown", function (event) {
      if ((event.ctrlKey || event.metaKey) && event.key === "s") {
        event.preventDefault();
        if (document.activeElement && document.activeElement.blur) {
          document.activeElement.blur();  // a field being typed in hands its value to the diagram first
        }
        save().catch(function () {});
      }
    });
    window.addEventListener("beforeunload", function (event) {
      if (dirty() && !leaving) {
        event.preventDefault();
        event.returnValue = t("leave");  // browsers show their own words; this only asks them to ask
      }
    });
    modeler.get("eventBus").on("commandStack.changed", function () {
      changes += 1;
      showState(dirty() ? "dirty" : "saved");
      refreshButtons();
    });
  }

  function start() {
    if (!window.BpmnJS || !window.OrderlyModelerPanel) {
      root.setAttribute("data-state", "failed");
      canvasBox.querySelector(".diagram-message").textContent = t("no_modeler");
      return;
    }
    Promise.all([
      request(root.getAttribute("data-moddle-url")),
      request(root.getAttribute("data-draft-url")),
      request(root.getAttribute("data-catalog-url"))
    ]).then(function (loaded) {
      var descriptor = loaded[0], draft = loaded[1], catalog = loaded[2];
      canvasBox.replaceChildren();
      modeler = new window.BpmnJS({ container: canvasBox, moddleExtensions: { spiffworkflow: descriptor } });
      window.orderlyModeler = modeler;  // for the browser's console and the browser tests
      draftStamp = draft.source === "draft" ? draft.updated_at : null;
      return modeler.importXML(draft.xml).then(function (result) {
        modeler.get("canvas").zoom("fit-viewport");
        new window.OrderlyModelerPanel({
          modeler: modeler, catalog: catalog, texts: texts, preview: preview,
          container: root.querySelector("[data-panel]")
        }).show(null);
        wire();
        showState("clean");
        showProblems(draft, false);
        if (result.warnings && result.warnings.length) {
          say(t("import_warnings") + "\n" + result.warnings.map(function (warning) {
            return "· " + warning.message;
          }).join("\n"));
        }
        root.setAttribute("data-state", "ready");
      });
    }).catch(function (error) {
      root.setAttribute("data-state", "failed");
      say(t("load_failed") + " " + (error && error.message ? error.message : error));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
