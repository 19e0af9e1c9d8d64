// The modeler's properties panel: for the selected element, only what Orderly executes (lane roles, forms,
// instructions, operations and their parameters, scripts, conditions, timers, messages, called processes).
// Every edit goes through bpmn-js commands, one undo step per edit (the "orderly.edit" command below).
// SpiffWorkflow's extension elements come from spiffworkflow_moddle.json. All text comes from the page.
(function () {
  "use strict";

  var SPIFF = "spiffworkflow:";
  var TIMER_KINDS = ["timeDuration", "timeDate", "timeCycle"];
  var NEW_PARAMETER_TYPE = "any";

  function h(tag, attributes, children) {
    var element = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      var value = attributes[name];
      if (value === undefined || value === null || value === false) {
        return;
      }
      if (name === "text") {
        element.textContent = value;
      } else if (name.slice(0, 2) === "on") {
        element.addEventListener(name.slice(2), value);
      } else if (name === "value") {
        element.value = value;
      } else if (name === "checked" || name === "selected") {
        element[name] = true;
      } else {
        element.setAttribute(name, value === true ? "" : value);
      }
    });
    (children || []).forEach(function (child) {
      if (child) {
        element.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
      }
    });
    return element;
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return values[name] === undefined ? whole : String(values[name]);
    });
  }

  function words(type) {  // "bpmn:UserTask" → "User task": the kind of element, as BPMN names it
    var local = type.split(":").pop().replace(/([a-z])([A-Z])/g, "$1 $2");
    return local.charAt(0) + local.slice(1).toLowerCase();
  }

  function is(businessObject, type) {
    return Boolean(businessObject && businessObject.$instanceOf && businessObject.$instanceOf(type));
  }

  function extensions(businessObject, type) {
    var holder = businessObject.extensionElements;
    return holder ? holder.get("values").filter(function (value) { return is(value, type); }) : [];
  }

  function body(businessObject, type) {
    var found = extensions(businessObject, SPIFF + type)[0];
    return found ? found.value || "" : "";
  }

  function property(businessObject, name) {
    var holder = extensions(businessObject, SPIFF + "Properties")[0];
    var found = holder && holder.get("properties").filter(function (item) { return item.name === name; })[0];
    return found ? found.value || "" : "";
  }

  function operatorOf(businessObject) {
    return extensions(businessObject, SPIFF + "ServiceTaskOperator")[0] || null;
  }

  function parametersOf(operator) {
    return operator && operator.parameters ? operator.parameters.get("parameters") : [];
  }

  function timerOf(businessObject) {
    return (businessObject.eventDefinitions || []).filter(function (definition) {
      return is(definition, "bpmn:TimerEventDefinition");
    })[0] || null;
  }

  function messageDefinitionOf(businessObject) {
    return (businessObject.eventDefinitions || []).filter(function (definition) {
      return is(definition, "bpmn:MessageEventDefinition");
    })[0] || null;
  }

  function definitionsOf(businessObject) {
    var node = businessObject;
    while (node.$parent) {
      node = node.$parent;
    }
    return node;
  }

  // The edits: each runs inside one "orderly.edit" command, so it is one step for undo and redo.
  function Edits(modeler) {
    this.modeling = modeler.get("modeling");
    this.moddle = modeler.get("moddle");
    this.bpmnFactory = modeler.get("bpmnFactory");
    this.commandStack = modeler.get("commandStack");
    this.commandStack.register("orderly.edit", { preExecute: function (context) { context.change(); } });
  }

  Edits.prototype.run = function (change) {
    this.commandStack.execute("orderly.edit", { change: change });
  };

  Edits.prototype.update = function (element, properties) {
    this.modeling.updateProperties(element, properties);
  };

  Edits.prototype.updateModdle = function (element, moddleElement, properties) {
    this.modeling.updateModdleProperties(element, moddleElement, properties);
  };

  Edits.prototype.expression = function (text) {
    return text ? this.bpmnFactory.create("bpmn:FormalExpression", { body: text }) : undefined;
  };

  Edits.prototype.holder = function (element, businessObject) {
    if (!businessObject.extensionElements) {
      var created = this.bpmnFactory.create("bpmn:ExtensionElements", { values: [] });
      created.$parent = businessObject;
      this.updateModdle(element, businessObject, { extensionElements: created });
    }
    return businessObject.extensionElements;
  };

  Edits.prototype.extension = function (element, businessObject, type, attributes) {
    var found = extensions(businessObject, type)[0];
    if (found) {
      return found;
    }
    var holder = this.holder(element, businessObject);
    var created = this.moddle.create(type, attributes || {});
    created.$parent = holder;
    this.updateModdle(element, holder, { values: holder.get("values").concat([created]) });
    return created;
  };

  Edits.prototype.removeExtension = function (element, businessObject, item) {
    var holder = businessObject.extensionElements;
    var rest = holder.get("values").filter(function (value) { return value !== item; });
    if (rest.length) {
      this.updateModdle(element, holder, { values: rest });
    } else {
      this.updateModdle(element, businessObject, { extensionElements: undefined });
    }
  };

  Edits.prototype.setBody = function (element, businessObject, type, text) {
    var found = extensions(businessObject, SPIFF + type)[0];
    if (!text) {
      if (found) {
        this.removeExtension(element, businessObject, found);
      }
      return;
    }
    var target = this.extension(element, businessObject, SPIFF + type);
    this.updateModdle(element, target, { value: text });
  };

  Edits.prototype.setProperty = function (element, businessObject, name, value) {
    var holder = extensions(businessObject, SPIFF + "Properties")[0];
    var found = holder && holder.get("properties").filter(function (item) { return item.name === name; })[0];
    if (!value) {
      if (!found) {
        return;
      }
      var rest = holder.get("properties").filter(function (item) { return item !== found; });
      if (rest.length) {
        this.updateModdle(element, holder, { properties: rest });
      } else {
        this.removeExtension(element, businessObject, holder);
      }
      return;
    }
    if (found) {
      this.updateModdle(element, found, { value: value });
      return;
    }
    holder = this.extension(element, businessObject, SPIFF + "Properties");
    var created = this.moddle.create(SPIFF + "Property", { name: name, value: value });
    created.$parent = holder;
    this.updateModdle(element, holder, { properties: holder.get("properties").concat([created]) });
  };

  // A new operation keeps the values of the parameters it shares with the old one and drops the others.
  Edits.prototype.setOperation = function (element, businessObject, name, keep) {
    var operator = operatorOf(businessObject);
    if (!name) {
      if (operator) {
        this.removeExtension(element, businessObject, operator);
      }
      return;
    }
    operator = this.extension(element, businessObject, SPIFF + "ServiceTaskOperator", { id: name });
    this.updateModdle(element, operator, { id: name });
    var kept = parametersOf(operator).filter(function (item) { return keep.indexOf(item.id) >= 0; });
    this.updateModdle(element, this.parameters(element, operator), { parameters: kept });
  };

  // SpiffWorkflow's schema wants the parameters element, even empty.
  Edits.prototype.parameters = function (element, operator) {
    if (!operator.parameters) {
      var holder = this.moddle.create(SPIFF + "Parameters", { parameters: [] });
      holder.$parent = operator;
      this.updateModdle(element, operator, { parameters: holder });
    }
    return operator.parameters;
  };

  Edits.prototype.setParameter = function (element, businessObject, name, value) {
    var operator = operatorOf(businessObject);
    var found = parametersOf(operator).filter(function (item) { return item.id === name; })[0];
    if (!value) {
      if (found) {
        this.updateModdle(element, operator.parameters, {
          parameters: operator.parameters.get("parameters").filter(function (item) { return item !== found; })
        });
      }
      return;
    }
    if (found) {
      this.updateModdle(element, found, { value: value });
      return;
    }
    var holder = this.parameters(element, operator);
    var created = this.moddle.create(SPIFF + "Parameter", { id: name, type: NEW_PARAMETER_TYPE, value: value });
    created.$parent = holder;
    this.updateModdle(element, holder, { parameters: holder.get("parameters").concat([created]) });
  };

  Edits.prototype.setTimer = function (element, definition, kind, text) {
    var properties = {};
    TIMER_KINDS.forEach(function (name) { properties[name] = undefined; });
    properties[kind] = this.bpmnFactory.create("bpmn:FormalExpression", { body: text });
    this.updateModdle(element, definition, properties);
  };

  // The bpmn:message of that name, made once for the whole file (message ids must be unique).
  Edits.prototype.message = function (element, businessObject, name) {
    var definitions = definitionsOf(businessObject);
    var found = definitions.get("rootElements").filter(function (root) {
      return is(root, "bpmn:Message") && root.name === name;
    })[0];
    if (found) {
      return found;
    }
    var base = "msg_" + name.replace(/[^A-Za-z0-9_]/g, "_");
    var id = base;
    for (var n = 2; this.moddle.ids.assigned(id); n += 1) {
      id = base + "_" + n;
    }
    var created = this.bpmnFactory.create("bpmn:Message", { id: id, name: name });
    this.moddle.ids.claim(id, created);
    created.$parent = definitions;
    this.updateModdle(element, definitions, { rootElements: definitions.get("rootElements").concat([created]) });
    return created;
  };

  function Panel(options) {
    this.modeler = options.modeler;
    this.catalog = options.catalog;
    this.texts = options.texts;
    this.container = options.container;
    this.preview = options.preview;  // function(markdown) → Promise of the safe HTML
    this.edits = new Edits(options.modeler);
    this.element = null;
    this.editing = false;

    var self = this;
    var eventBus = this.modeler.get("eventBus");
    eventBus.on("selection.changed", function (event) {
      self.show(event.newSelection.length === 1 ? event.newSelection[0] : null);
    });
    eventBus.on("commandStack.changed", function () {
      if (!self.editing) {  // undo, redo, or a change on the canvas: draw the panel again
        self.show(self.element);
      }
    });
  }

  Panel.prototype.t = function (name, values) {
    return values ? fill(this.texts[name], values) : this.texts[name];
  };

  Panel.prototype.apply = function (change) {
    this.editing = true;
    try {
      this.edits.run(change);
    } finally {
      this.editing = false;
    }
  };

  Panel.prototype.show = function (element) {
    var registry = this.modeler.get("elementRegistry");
    if (element && element.labelTarget) {
      element = element.labelTarget;
    }
    if (element && !registry.get(element.id)) {
      element = null;  // deleted meanwhile
    }
    this.element = element;
    this.container.replaceChildren(element ? this.render(element) : this.renderProcess());
  };

  // Nothing selected: the process itself (in a collaboration, the process of its first pool).
  Panel.prototype.renderProcess = function () {
    var self = this;
    var root = this.modeler.get("canvas").getRootElement();
    var process = root.businessObject;
    if (is(process, "bpmn:Collaboration")) {
      process = (process.participants || []).map(function (pool) { return pool.processRef; }).filter(Boolean)[0];
    }
    var fields = h("div", { "class": "panel-fields", "data-element-id": process ? process.id : "" }, [
      h("p", { "class": "hint", text: this.t("select_hint") })
    ]);
    if (!process) {
      return fields;
    }
    fields.appendChild(h("h3", {}, [this.t("process"), " ", h("code", { text: process.id })]));
    fields.appendChild(this.input("id", this.t("id"), process.id, null, { attributes: { readonly: true } }));
    fields.appendChild(this.input("name", this.t("name"), process.name || "", function (value) {
      self.apply(function () { self.edits.updateModdle(root, process, { name: value || undefined }); });
    }));
    return fields;
  };

  Panel.prototype.render = function (element) {
    var self = this;
    var businessObject = element.businessObject;
    var fields = h("div", { "class": "panel-fields", "data-element-id": businessObject.id }, [
      h("h3", {}, [words(businessObject.$type), " ", h("code", { text: businessObject.id })])
    ]);
    fields.appendChild(this.input("id", this.t("id"), businessObject.id, null, { attributes: { readonly: true } }));
    if (is(businessObject, "bpmn:Lane")) {
      fields.appendChild(this.roleField(element));
    } else {
      fields.appendChild(this.input("name", this.t("name"), businessObject.name || "", function (value) {
        self.apply(function () { self.edits.update(element, { name: value || undefined }); });
      }));
    }
    this.sections(element, businessObject).forEach(function (section) {
      fields.appendChild(section);
    });
    return fields;
  };

  Panel.prototype.sections = function (element, businessObject) {
    var self = this;
    var found = [];
    if (is(businessObject, "bpmn:UserTask") || is(businessObject, "bpmn:ManualTask")) {
      found.push(this.formField(element, businessObject), this.instructionsField(element, businessObject));
    }
    if (is(businessObject, "bpmn:ServiceTask")) {
      found.push(this.operationFields(element, businessObject));
    }
    if (is(businessObject, "bpmn:ScriptTask")) {
      found.push(this.textarea("script", this.t("script"), businessObject.script || "", function (value) {
        self.apply(function () { self.edits.update(element, { script: value || undefined }); });
      }, 6));
    }
    if (is(businessObject, "bpmn:SequenceFlow")) {
      found = found.concat(this.flowFields(element, businessObject));
    }
    if (is(businessObject, "bpmn:ExclusiveGateway") || is(businessObject, "bpmn:InclusiveGateway")) {
      found.push(this.defaultFlowField(element, businessObject));
    }
    if (timerOf(businessObject)) {
      found = found.concat(this.timerFields(element, timerOf(businessObject)));
    }
    if (messageDefinitionOf(businessObject) || is(businessObject, "bpmn:ReceiveTask") ||
        is(businessObject, "bpmn:SendTask")) {
      found.push(this.messageField(element, businessObject));
    }
    if (is(businessObject, "bpmn:CallActivity")) {
      found.push(this.input("calledElement", this.t("called_element"), businessObject.calledElement || "",
        function (value) {
          self.apply(function () { self.edits.update(element, { calledElement: value || undefined }); });
        }));
    }
    if (is(businessObject, "bpmn:BoundaryEvent")) {
      found.push(this.checkbox("interrupting", this.t("interrupting"), businessObject.cancelActivity !== false,
        function (checked) {
          self.apply(function () { self.edits.update(element, { cancelActivity: checked }); });
        }));
    }
    if (is(businessObject, "bpmn:Activity") && !is(businessObject, "bpmn:ScriptTask")) {
      found.push(this.scriptField(element, businessObject, "PreScript", "pre_script"),
        this.scriptField(element, businessObject, "PostScript", "post_script"));
    }
    return found;
  };

  // --- controls ------------------------------------------------------------------------------------------

  Panel.prototype.fieldId = function (name) {
    return "panel-" + name;
  };

  Panel.prototype.wrap = function (name, labelText, control, help) {
    var children = [h("label", { "for": this.fieldId(name), text: labelText }), control];
    if (help) {
      var helpId = this.fieldId(name) + "-help";
      control.setAttribute("aria-describedby", helpId);
      children.push(h("p", { "class": "help", id: helpId, text: help }));
    }
    return h("div", { "class": "field", "data-field": name }, children);
  };

  // options: help (a sentence under the field), attributes (more attributes of the input)
  Panel.prototype.input = function (name, labelText, value, onChange, options) {
    var self = this;
    options = options || {};
    var control = h("input", Object.assign({
      type: "text", id: this.fieldId(name), name: name, value: value, autocomplete: "off",
      onchange: onChange && function () { onChange.call(self, control.value.trim()); }
    }, options.attributes || {}));
    return this.wrap(name, labelText, control, options.help);
  };

  Panel.prototype.textarea = function (name, labelText, value, onChange, rows, help, css) {
    var self = this;
    var control = h("textarea", {
      id: this.fieldId(name), name: name, rows: String(rows || 4), value: value, spellcheck: "false", "class": css,
      onchange: function () { onChange.call(self, control.value.replace(/\s+$/, "")); }
    });
    return this.wrap(name, labelText, control, help);
  };

  // extra: help (a sentence under the field), unknown (the text for a value the file has and Orderly does not know)
  Panel.prototype.select = function (name, labelText, options, value, onChange, extra) {
    var self = this;
    extra = extra || {};
    var known = options.some(function (option) { return option.value === value; });
    if (value && !known) {  // what the file says stays visible and selected, even when Orderly does not know it
      options = [{ value: value, text: extra.unknown ? extra.unknown(value) : value }].concat(options);
    }
    var control = h("select", {
      id: this.fieldId(name), name: name,
      onchange: function () { onChange.call(self, control.value); }
    }, options.map(function (option) {
      return h("option", { value: option.value, text: option.text, selected: option.value === value });
    }));
    return this.wrap(name, labelText, control, extra.help);
  };

  Panel.prototype.checkbox = function (name, labelText, checked, onChange) {
    var self = this;
    var control = h("input", {
      type: "checkbox", id: this.fieldId(name), name: name, checked: checked,
      onchange: function () { onChange.call(self, control.checked); }
    });
    return h("div", { "class": "field", "data-field": name }, [
      h("label", { "class": "check", "for": this.fieldId(name) }, [control, labelText])
    ]);
  };

  // --- by kind of element ----------------------------------------------------------------------------------

  Panel.prototype.roleField = function (element) {
    var self = this;
    var options = [{ value: "", text: this.t("choose_role") }].concat(this.catalog.roles.map(function (role) {
      return { value: role.id, text: role.label + " (" + role.id + ")" };
    }));
    return this.select("role", this.t("role"), options, element.businessObject.name || "", function (value) {
      self.apply(function () { self.edits.update(element, { name: value || undefined }); });
    }, { help: this.t("role_help"), unknown: function (name) { return self.t("not_a_role", { name: name }); } });
  };

  Panel.prototype.formField = function (element, businessObject) {
    var self = this;
    var options = [{ value: "", text: this.t("no_form") }].concat(this.catalog.forms.map(function (form) {
      return { value: form.key, text: form.title + " (" + form.key + ")" };
    }));
    return this.select("formKey", this.t("form"), options, property(businessObject, "formKey"), function (value) {
      self.apply(function () { self.edits.setProperty(element, businessObject, "formKey", value); });
    }, { unknown: function (key) { return self.t("unknown_form", { key: key }); } });
  };

  Panel.prototype.instructionsField = function (element, businessObject) {
    var self = this;
    var field = this.textarea("instructions", this.t("instructions"), body(businessObject, "InstructionsForEndUser"),
      function (value) {
        self.apply(function () { self.edits.setBody(element, businessObject, "InstructionsForEndUser", value); });
      }, 5, this.t("instructions_help"), "prose");
    var shown = h("div", { "class": "panel-preview", "data-preview": "", hidden: true, "aria-live": "polite" });
    var button = h("button", {
      type: "button", "class": "small secondary", text: this.t("preview"), onclick: function () {
        var text = field.querySelector("textarea").value;
        self.preview(text).then(function (html) {
          shown.innerHTML = html;  // rendered by the server with raw HTML switched off
        }, function (error) {
          shown.textContent = self.t("preview_failed") + " " + error.message;
        }).then(function () { shown.hidden = false; });
      }
    });
    field.appendChild(h("div", {}, [button]));
    field.appendChild(shown);
    return field;
  };

  Panel.prototype.operationFields = function (element, businessObject) {
    var self = this;
    var operator = operatorOf(businessObject);
    var name = operator ? operator.id || "" : "";
    var operation = this.catalog.operations.filter(function (item) { return item.name === name; })[0];
    var options = [{ value: "", text: this.t("choose_operation") }].concat(this.catalog.operations.map(function (item) {
      return { value: item.name, text: item.name };
    }));
    var box = h("div", { "class": "panel-fields" });
    box.appendChild(this.select("operation", this.t("operation"), options, name, function (value) {
      var chosen = self.catalog.operations.filter(function (item) { return item.name === value; })[0];
      var keep = chosen ? chosen.params.map(function (param) { return param.name; }) : [];
      self.apply(function () { self.edits.setOperation(element, businessObject, value, keep); });
      self.show(element);  // the parameters of the new operation
    }, {
      help: operation ? operation.doc : null,
      unknown: function (unknown) { return self.t("unknown_operation", { name: unknown }); }
    }));
    if (!operator) {
      return box;
    }
    box.appendChild(this.input("resultVariable", this.t("result_variable"), operator.resultVariable || "",
      function (value) {
        self.apply(function () { self.edits.updateModdle(element, operator, { resultVariable: value || undefined }); });
      }, { help: this.t("result_help") }));
    var values = {};
    parametersOf(operator).forEach(function (item) { values[item.id] = item.value || ""; });
    var declared = operation ? operation.params : [];
    var names = declared.map(function (param) { return param.name; });
    var extra = Object.keys(values).filter(function (key) { return names.indexOf(key) < 0; });
    if (!declared.length && !extra.length) {
      return box;
    }
    var fieldset = h("fieldset", {}, [h("legend", { text: this.t("parameters") }),
      h("p", { "class": "help", text: this.t("parameter_help") })]);
    declared.forEach(function (param) {
      fieldset.appendChild(self.parameterInput(element, businessObject, param.name, values[param.name] || "",
        param.required ? self.t("required") : self.t("default_is", { value: param["default"] }), param.required));
    });
    extra.forEach(function (key) {
      fieldset.appendChild(self.parameterInput(element, businessObject, key, values[key], self.t("extra_parameter"),
        false));
    });
    box.appendChild(fieldset);
    return box;
  };

  Panel.prototype.parameterInput = function (element, businessObject, name, value, note, required) {
    var self = this;
    var labelText = required ? name + " *" : name;
    return this.input("param-" + name, labelText, value, function (text) {
      self.apply(function () { self.edits.setParameter(element, businessObject, name, text); });
    }, { help: note, attributes: { "aria-required": required ? "true" : null, "data-param": name } });
  };

  Panel.prototype.flowFields = function (element, businessObject) {
    var self = this;
    var source = businessObject.sourceRef;
    if (!is(source, "bpmn:ExclusiveGateway") && !is(source, "bpmn:InclusiveGateway")) {
      return [];
    }
    var condition = businessObject.conditionExpression ? businessObject.conditionExpression.body || "" : "";
    var gateway = this.modeler.get("elementRegistry").get(source.id);
    return [
      this.textarea("condition", this.t("condition"), condition, function (value) {
        self.apply(function () { self.edits.update(element, { conditionExpression: self.edits.expression(value) }); });
      }, 2, this.t("condition_help")),
      this.checkbox("isDefault", this.t("is_default"), source["default"] === businessObject, function (checked) {
        self.apply(function () { self.edits.update(gateway, { "default": checked ? businessObject : undefined }); });
      })
    ];
  };

  Panel.prototype.defaultFlowField = function (element, businessObject) {
    var self = this;
    // the canvas's connections: a file need not list a node's <bpmn:outgoing> flows
    var outgoing = (element.outgoing || []).map(function (connection) { return connection.businessObject; })
      .filter(function (flow) { return is(flow, "bpmn:SequenceFlow"); });
    var options = [{ value: "", text: this.t("no_default") }].concat(outgoing.map(function (flow) {
      var target = flow.targetRef;
      var text = (flow.name || flow.id) + " → " + (target ? target.name || target.id : "?");
      return { value: flow.id, text: text };
    }));
    var current = businessObject["default"] ? businessObject["default"].id : "";
    return this.select("default", this.t("default_flow"), options, current, function (value) {
      var flow = outgoing.filter(function (item) { return item.id === value; })[0];
      self.apply(function () { self.edits.update(element, { "default": flow || undefined }); });
    });
  };

  Panel.prototype.timerFields = function (element, definition) {
    var self = this;
    var kind = TIMER_KINDS.filter(function (name) { return definition[name]; })[0] || "timeDuration";
    var expression = definition[kind] ? definition[kind].body || "" : "";
    var kindField = this.select("timerKind", this.t("timer_kind"), [
      { value: "timeDuration", text: this.t("time_duration") },
      { value: "timeDate", text: this.t("time_date") },
      { value: "timeCycle", text: this.t("time_cycle") }
    ], kind, function (value) {
      var text = expressionField.querySelector("textarea").value.trim();
      self.apply(function () { self.edits.setTimer(element, definition, value, text); });
    });
    var expressionField = this.textarea("timerExpression", this.t("timer_expression"), expression, function (value) {
      var chosen = kindField.querySelector("select").value;
      self.apply(function () { self.edits.setTimer(element, definition, chosen, value.trim()); });
    }, 2, this.t("timer_help"));
    var helpers = h("ul", { "class": "timer-helpers", "aria-label": this.t("timer_helpers") },
      this.catalog.timer_helpers.map(function (helper) {
        return h("li", {}, [
          h("button", {
            type: "button", "class": "link", text: helper.example, title: helper.doc, onclick: function () {
              var area = expressionField.querySelector("textarea");
              area.value = helper.example;
              area.dispatchEvent(new Event("change"));
              area.focus();
            }
          }),
          " ", h("span", { text: helper.doc })
        ]);
      }));
    return [kindField, expressionField, h("div", { "class": "field" }, [
      h("p", { "class": "help", text: this.t("timer_helpers") }), helpers
    ])];
  };

  Panel.prototype.messageField = function (element, businessObject) {
    var self = this;
    var definition = messageDefinitionOf(businessObject);
    var holder = definition || businessObject;  // receive and send tasks hold the reference themselves
    var current = holder.messageRef ? holder.messageRef.name || "" : "";
    var listId = this.fieldId("message-names");
    var names = this.catalog.messages.map(function (message) { return message.name; });
    definitionsOf(businessObject).get("rootElements").forEach(function (root) {
      if (is(root, "bpmn:Message") && root.name && names.indexOf(root.name) < 0) {
        names.push(root.name);
      }
    });
    var field = this.input("message", this.t("message"), current, function (value) {
      self.apply(function () {
        var message = value ? self.edits.message(element, businessObject, value) : undefined;
        if (definition) {
          self.edits.updateModdle(element, definition, { messageRef: message });
        } else {
          self.edits.update(element, { messageRef: message });
        }
      });
    }, { help: this.t("message_help"), attributes: { list: listId } });
    field.appendChild(h("datalist", { id: listId }, names.map(function (name) {
      var known = self.catalog.messages.filter(function (message) { return message.name === name; })[0];
      return h("option", { value: name, label: known ? known.doc : null });
    })));
    return field;
  };

  Panel.prototype.scriptField = function (element, businessObject, type, textName) {
    var self = this;
    var name = type === "PreScript" ? "preScript" : "postScript";
    return this.textarea(name, this.t(textName), body(businessObject, type), function (value) {
      self.apply(function () { self.edits.setBody(element, businessObject, type, value); });
    }, 2);
  };

  window.OrderlyModelerPanel = Panel;
})();
