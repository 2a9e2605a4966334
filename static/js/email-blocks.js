// The email template editor's island: the block editor (sections → columns → blocks,
// properties in a side panel), the mode switch (blocks / raw HTML), errors shown next
// to the field that caused them once it has been touched, the preview's size and
// dark-mode toggles, the SMS personal-field and link pickers, and product searches. Vanilla JS: the document is
// small and its shape is ours, so a framework would add weight and no safety. Every
// value is put in the page with textContent or .value, never innerHTML.
(function () {
  "use strict";

  var form = document.getElementById("template-form");
  if (!form) return;

  function readJson(id, fallback) {
    var node = document.getElementById(id);
    try { return node ? JSON.parse(node.textContent) : fallback; } catch (e) { return fallback; }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var options = readJson("blocks-options", { fields: {}, networks: [] });
  var touched = new Set();
  var lastErrors = readJson("saved-errors", {}) || {};
  // Errors of a save attempt are shown at once: the marketer pressed Save.
  Object.keys(lastErrors).forEach(function (key) { touched.add(key); });

  // ---- errors next to their field ------------------------------------------------
  function showFieldErrors() {
    form.querySelectorAll("[data-error-for]").forEach(function (slot) {
      var key = slot.getAttribute("data-error-for");
      var reasons = lastErrors[key];
      var show = reasons && touched.has(key);
      slot.textContent = show ? reasons.join("; ") : "";
      slot.hidden = !show;
      var input = form.querySelector("[name='" + key + "']");
      if (input) {
        if (show) {
          input.setAttribute("aria-invalid", "true");
        } else {
          input.removeAttribute("aria-invalid");
        }
      }
    });
    if (editor) editor.showErrors();
  }

  form.addEventListener("input", function (event) {
    if (event.target.name) touched.add(event.target.name);
  });

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (!event.target || event.target.id !== "template-preview") return;
    lastErrors = {};
    event.target.querySelectorAll("[data-preview-errors] li").forEach(function (item) {
      lastErrors[item.getAttribute("data-field")] = [item.textContent];
    });
    showFieldErrors();
  });

  // ---- mode switch ---------------------------------------------------------------
  function setMode(mode) {
    form.querySelectorAll("[data-mode-panel]").forEach(function (panel) {
      panel.hidden = panel.getAttribute("data-mode-panel") !== mode;
    });
  }
  form.querySelectorAll("input[name='editor']").forEach(function (radio) {
    radio.addEventListener("change", function () {
      if (radio.checked) setMode(radio.value);
    });
  });

  // ---- SMS personal-field picker -------------------------------------------------
  form.querySelectorAll("select[data-insert-into]").forEach(function (picker) {
    picker.addEventListener("change", function () {
      var target = document.getElementById(picker.getAttribute("data-insert-into"));
      if (!picker.value || !target) return;
      var placeholder = "{{ " + picker.value + " }}";
      var start = target.selectionStart || target.value.length;
      var end = target.selectionEnd || start;
      target.value = target.value.slice(0, start) + placeholder + target.value.slice(end);
      target.focus();
      target.setSelectionRange(start + placeholder.length, start + placeholder.length);
      picker.value = "";
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
  });

  // ---- preview size and dark mode -------------------------------------------------
  var preview = document.getElementById("template-preview");
  document.querySelectorAll(".preview-toolbar [data-device]").forEach(function (button) {
    button.addEventListener("click", function () {
      preview.setAttribute("data-device", button.getAttribute("data-device"));
      document.querySelectorAll(".preview-toolbar [data-device]").forEach(function (other) {
        other.setAttribute("aria-pressed", String(other === button));
      });
    });
  });
  var dark = document.getElementById("dark-check");
  if (dark) {
    dark.addEventListener("change", function () {
      if (dark.checked) {
        preview.setAttribute("data-dark", "");
      } else {
        preview.removeAttribute("data-dark");
      }
    });
  }

  // ---- the block editor ----------------------------------------------------------
  var ALIGN_CHOICES = [["", "Default"], ["left", "Left"], ["center", "Centre"], ["right", "Right"]];
  var KINDS = {
    heading: {
      label: "Heading",
      make: function () { return { type: "heading", text: "Your headline", level: 1 }; },
      fields: [
        { key: "text", label: "Text", input: "text", personal: true },
        { key: "level", label: "Size", input: "select", choices: [[1, "Large"], [2, "Medium"], [3, "Small"]], number: true },
        { key: "align", label: "Alignment", input: "select", choices: ALIGN_CHOICES }
      ],
      summary: function (b) { return b.text; }
    },
    text: {
      label: "Text",
      make: function () { return { type: "text", text: "Write your message here." }; },
      fields: [
        { key: "text", label: "Text", input: "textarea", personal: true, hint: "**bold**, *italic*, [link text](https://…), {{first_name|there}} for a personal field; a blank line starts a new paragraph" },
        { key: "align", label: "Alignment", input: "select", choices: ALIGN_CHOICES }
      ],
      summary: function (b) { return b.text; }
    },
    image: {
      label: "Image",
      make: function () { return { type: "image", src: "", alt: "" }; },
      fields: [
        { key: "src", label: "Image address", input: "url", upload: true },
        { key: "alt", label: "Description (alt text)", input: "text" },
        { key: "href", label: "Link (optional)", input: "url" },
        { key: "width", label: "Width in px (optional)", input: "number", min: 20, max: 600 }
      ],
      summary: function (b) { return b.alt || b.src || "no image yet"; }
    },
    button: {
      label: "Button",
      make: function () { return { type: "button", label: "Shop now", url: "https://", background: "#1f6feb", color: "#ffffff" }; },
      fields: [
        { key: "label", label: "Label", input: "text" },
        { key: "url", label: "Link", input: "url" },
        { key: "background", label: "Button colour", input: "color" },
        { key: "color", label: "Text colour", input: "color" },
        { key: "align", label: "Alignment", input: "select", choices: ALIGN_CHOICES }
      ],
      summary: function (b) { return b.label; }
    },
    divider: {
      label: "Divider",
      make: function () { return { type: "divider", color: "#dddddd" }; },
      fields: [{ key: "color", label: "Colour", input: "color" }],
      summary: function () { return "line"; }
    },
    spacer: {
      label: "Spacer",
      make: function () { return { type: "spacer", height: 24 }; },
      fields: [{ key: "height", label: "Height in px", input: "number", min: 4, max: 200 }],
      summary: function (b) { return b.height + " px"; }
    },
    social: {
      label: "Social links",
      make: function () { return { type: "social", links: [{ network: "instagram", url: "https://instagram.com/" }] }; },
      fields: [],
      social: true,
      summary: function (b) { return (b.links || []).map(function (l) { return l.network; }).join(", "); }
    },
    personalisation: {
      label: "Personal field",
      make: function () { return { type: "personalisation", before: "Hi ", field: "first_name", fallback: "there", after: "," }; },
      fields: [
        { key: "before", label: "Text before", input: "text" },
        { key: "field", label: "Field", input: "select", choices: Object.keys(options.fields).map(function (k) { return [k, options.fields[k]]; }) },
        { key: "fallback", label: "When the contact has none", input: "text" },
        { key: "after", label: "Text after", input: "text" }
      ],
      summary: function (b) { return (b.before || "") + "[" + (options.fields[b.field] || b.field) + "]" + (b.after || ""); }
    }
  };

  // Kinds other apps add (messaging/blocks/kinds.py: the Survey block): one picker each.
  Object.keys(options.extra || {}).forEach(function (name) {
    var spec = options.extra[name];
    var labels = {};
    spec.choices.forEach(function (choice) { labels[String(choice[0])] = choice[1]; });
    KINDS[name] = {
      label: spec.label,
      make: function () {
        var block = { type: name };
        if (spec.choices.length) block[spec.field] = spec.choices[0][0];
        return block;
      },
      // Ids are numbers; a kind whose choices are words (recommendations: "popular:4") keeps them as text.
      fields: [spec.search_url
        ? { key: spec.field, label: spec.field_label, input: "search", url: spec.search_url, labels: labels, empty: spec.empty }
        : { key: spec.field, label: spec.field_label, input: "select", number: spec.choices.every(function (c) { return typeof c[0] === "number"; }), choices: spec.choices, empty: spec.empty }],
      searchUrl: spec.search_url,
      labels: labels,
      summary: function (b) { return labels[String(b[spec.field])] || (b[spec.field] ? "product #" + b[spec.field] : "none chosen"); }
    };
  });

  // A search picker's answer: [{id, label}] for the words typed, or for chosen ids.
  function searchProducts(url, params) {
    var query = Object.keys(params).map(function (k) { return k + "=" + encodeURIComponent(params[k]); }).join("&");
    return fetch(url + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { results: [] }; })
      .then(function (data) { return data.results || []; })
      .catch(function () { return []; });
  }

  // A search box with its results as buttons; `choose(result)` is called with the one picked.
  function searchBox(id, url, label, empty, choose) {
    var wrap = el("div", { class: "search-picker" });
    var input = el("input", { id: id, type: "search", autocomplete: "off", placeholder: "Search by name or SKU" });
    var status = el("small", { class: "muted", role: "status" });
    var list = el("ul", { class: "search-results" });
    var timer = null;
    var seq = 0;
    function run() {
      var mine = ++seq;
      searchProducts(url, { q: input.value.trim() }).then(function (results) {
        if (mine !== seq) return;
        list.replaceChildren();
        status.textContent = results.length ? results.length + " shown" : empty;
        results.forEach(function (result) {
          var button = el("button", { type: "button", class: "outline small" }, result.label);
          if (result.price) button.append(el("small", {}, " " + result.price));
          button.addEventListener("click", function () { choose(result); });
          var item = el("li", {});
          item.append(button);
          list.append(item);
        });
      });
    }
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); clearTimeout(timer); run(); }
    });
    input.addEventListener("input", function (event) {
      event.stopPropagation(); // the words typed are not the template: no preview for them
      clearTimeout(timer);
      timer = setTimeout(run, 250);
    });
    wrap.append(el("label", { for: id }, label), input, status, list);
    run();
    return wrap;
  }

  // ---- SMS product links ----------------------------------------------------------
  var smsBody = document.getElementById("sms-body");
  function insertIntoSms(text) {
    var start = smsBody.selectionStart === null ? smsBody.value.length : smsBody.selectionStart;
    var end = smsBody.selectionEnd === null ? start : smsBody.selectionEnd;
    smsBody.value = smsBody.value.slice(0, start) + text + smsBody.value.slice(end);
    smsBody.focus();
    smsBody.setSelectionRange(start + text.length, start + text.length);
    smsBody.dispatchEvent(new Event("input", { bubbles: true }));
  }
  var smsLinks = document.getElementById("sms-links");
  if (smsBody && smsLinks) {
    Object.keys(options.extra || {}).forEach(function (name) {
      var spec = options.extra[name];
      if (!spec.sms_link && !spec.sms_fixed.length) return;
      var box = el("fieldset", { class: "sms-link-picker" });
      box.append(el("legend", {}, "Insert a tracked link to a " + spec.label.toLowerCase()));
      var status = el("small", { class: "muted", role: "status" });
      spec.sms_fixed.forEach(function (pair) {
        var button = el("button", { type: "button", class: "secondary small" }, pair[0]);
        button.addEventListener("click", function () { insertIntoSms(pair[1]); status.textContent = "Inserted: " + pair[0] + "."; });
        box.append(button);
      });
      if (spec.sms_link && spec.search_url) {
        box.append(searchBox("sms-link-" + name, spec.search_url, "Or a " + spec.label.toLowerCase(), spec.empty, function (result) {
          insertIntoSms(spec.sms_link.replace("%s", String(result.id)));
          status.textContent = "Inserted a link to " + result.label + ".";
        }));
      }
      box.append(status);
      smsLinks.append(box);
    });
    if (smsLinks.children.length) smsLinks.hidden = false;
  }

  var editor = null;
  var root = document.getElementById("blocks-editor");
  if (root) editor = blockEditor(root);

  function blockEditor(root) {
    var hidden = root.querySelector("input[name='document']");
    var doc = readJson("document-data", {});
    if (!doc || !Array.isArray(doc.sections) || !doc.sections.length) {
      doc = { sections: [{ columns: [{ blocks: [] }] }] };
    }
    var selected = null; // [section, column, block]
    var canvas = el("div", { class: "blocks-canvas" });
    var panel = el("div", { class: "blocks-panel", "aria-label": "Block properties", role: "region" });
    var layout = el("div", { class: "blocks-layout" });
    layout.append(canvas, panel);
    root.querySelectorAll("p.muted").forEach(function (p) { p.remove(); });
    root.append(layout);

    function blockPath(s, c, b) { return "document.sections[" + s + "].columns[" + c + "].blocks[" + b + "]"; }

    function changed() {
      hidden.value = JSON.stringify(doc);
      form.dispatchEvent(new Event("blocks-changed"));
    }

    function move(list, index, delta) {
      var to = index + delta;
      if (to < 0 || to >= list.length) return false;
      var item = list.splice(index, 1)[0];
      list.splice(to, 0, item);
      return true;
    }

    function smallButton(text, label, onClick) {
      var button = el("button", { type: "button", class: "outline secondary", "aria-label": label, title: label }, text);
      button.addEventListener("click", onClick);
      return button;
    }

    function renderCanvas() {
      canvas.replaceChildren();
      doc.sections.forEach(function (section, s) {
        var box = el("section", { class: "blocks-section", "aria-label": "Section " + (s + 1) });
        var bar = el("div", { class: "blocks-bar" });
        bar.append(el("strong", {}, "Section " + (s + 1)));
        var columnsPick = el("select", { "aria-label": "Columns in section " + (s + 1) });
        [1, 2, 3].forEach(function (n) {
          var option = el("option", { value: String(n) }, n + (n === 1 ? " column" : " columns"));
          if (section.columns.length === n) option.selected = true;
          columnsPick.append(option);
        });
        columnsPick.addEventListener("change", function () {
          var n = Number(columnsPick.value);
          while (section.columns.length < n) section.columns.push({ blocks: [] });
          while (section.columns.length > n) {
            var gone = section.columns.pop();
            section.columns[section.columns.length - 1].blocks.push.apply(section.columns[section.columns.length - 1].blocks, gone.blocks);
          }
          selected = null;
          update();
        });
        bar.append(columnsPick);
        bar.append(smallButton("↑", "Move section " + (s + 1) + " up", function () { if (move(doc.sections, s, -1)) { selected = null; update(); } }));
        bar.append(smallButton("↓", "Move section " + (s + 1) + " down", function () { if (move(doc.sections, s, 1)) { selected = null; update(); } }));
        if (doc.sections.length > 1) {
          bar.append(smallButton("✕", "Delete section " + (s + 1), function () { doc.sections.splice(s, 1); selected = null; update(); }));
        }
        box.append(bar);
        var columns = el("div", { class: "blocks-columns" });
        section.columns.forEach(function (column, c) {
          columns.append(renderColumn(column, s, c, section.columns.length));
        });
        box.append(columns);
        canvas.append(box);
      });
      var addSection = el("button", { type: "button", class: "secondary" }, "Add section");
      addSection.addEventListener("click", function () {
        doc.sections.push({ columns: [{ blocks: [] }] });
        update();
      });
      canvas.append(addSection);
    }

    function renderColumn(column, s, c, count) {
      var box = el("div", { class: "blocks-column" });
      if (count > 1) box.append(el("small", { class: "muted" }, "Column " + (c + 1)));
      column.blocks.forEach(function (block, b) {
        var kind = KINDS[block.type] || { label: block.type, summary: function () { return ""; } };
        var row = el("div", { class: "blocks-item", "data-path": blockPath(s, c, b) });
        if (selected && selected[0] === s && selected[1] === c && selected[2] === b) row.classList.add("is-selected");
        var pick = el("button", { type: "button", class: "outline blocks-select" }, kind.label + ": " + (kind.summary(block) || ""));
        pick.addEventListener("click", function () { selected = [s, c, b]; renderCanvas(); renderPanel(); focusPanel(); });
        row.append(pick);
        row.append(smallButton("↑", "Move " + kind.label + " up", function () { if (move(column.blocks, b, -1)) { selected = [s, c, b - 1]; update(); } }));
        row.append(smallButton("↓", "Move " + kind.label + " down", function () { if (move(column.blocks, b, 1)) { selected = [s, c, b + 1]; update(); } }));
        row.append(smallButton("✕", "Delete " + kind.label, function () { column.blocks.splice(b, 1); selected = null; update(); }));
        box.append(row);
      });
      var add = el("div", { class: "blocks-add" });
      var kindPick = el("select", { "aria-label": "Block to add to section " + (s + 1) + ", column " + (c + 1) });
      Object.keys(KINDS).forEach(function (key) { kindPick.append(el("option", { value: key }, KINDS[key].label)); });
      var addButton = el("button", { type: "button" }, "Add block");
      addButton.addEventListener("click", function () {
        column.blocks.push(KINDS[kindPick.value].make());
        selected = [s, c, column.blocks.length - 1];
        update();
        focusPanel();
      });
      add.append(kindPick, addButton);
      box.append(add);
      return box;
    }

    function current() {
      if (!selected) return null;
      var section = doc.sections[selected[0]];
      var column = section && section.columns[selected[1]];
      return column ? column.blocks[selected[2]] || null : null;
    }

    function focusPanel() {
      var first = panel.querySelector("input, select, textarea");
      if (first) first.focus();
    }

    function fieldInput(block, field, path) {
      var id = "block-" + field.key;
      if (field.input === "search") return searchField(block, field, path, id);
      var wrap = el("div", {});
      var label = el("label", { for: id }, field.label);
      var input;
      if (field.input === "textarea") {
        input = el("textarea", { id: id, rows: "6" });
      } else if (field.input === "select") {
        input = el("select", { id: id });
        if (!field.choices.length && field.empty) input.append(el("option", { value: "" }, field.empty));
        field.choices.forEach(function (choice) { input.append(el("option", { value: String(choice[0]) }, choice[1])); });
      } else {
        input = el("input", { id: id, type: field.input });
        if (field.min !== undefined) { input.min = field.min; input.max = field.max; }
      }
      input.value = block[field.key] === undefined ? (field.input === "color" ? "#000000" : "") : String(block[field.key]);
      input.addEventListener(field.input === "select" || field.input === "color" ? "change" : "input", function () {
        var value = input.value;
        if (field.input === "number" || field.number) {
          if (value === "") { delete block[field.key]; } else { block[field.key] = Number(value); }
        } else if (value === "" && field.key !== "text") {
          delete block[field.key];
        } else {
          block[field.key] = value;
        }
        touched.add(path + "." + field.key);
        renderCanvas();
        changed();
      });
      wrap.append(label, input);
      if (field.hint) wrap.append(el("small", { class: "muted" }, field.hint));
      if (field.upload) wrap.append(uploadControl(block, input, path));
      if (field.personal) wrap.append(personalPicker(input));
      wrap.append(el("small", { class: "field-error", "data-block-error": path + "." + field.key, hidden: "" }));
      return wrap;
    }

    // A picker too long to list (products): what is chosen, and a search to change it.
    function searchField(block, field, path, id) {
      var wrap = el("div", {});
      var chosen = el("p", { class: "search-chosen" });
      function showChosen() {
        var value = block[field.key];
        chosen.textContent = value ? "Chosen: " + (field.labels[String(value)] || "product #" + value) : "None chosen yet";
      }
      showChosen();
      wrap.append(chosen, searchBox(id, field.url, "Find a " + field.label.toLowerCase(), field.empty, function (result) {
        field.labels[String(result.id)] = result.label;
        block[field.key] = result.id;
        touched.add(path + "." + field.key);
        showChosen();
        renderCanvas();
        changed();
      }));
      wrap.append(el("small", { class: "field-error", "data-block-error": path + "." + field.key, hidden: "" }));
      return wrap;
    }

    // The labels of the products a saved document already shows, asked once.
    function loadChosenLabels() {
      Object.keys(KINDS).forEach(function (name) {
        var kind = KINDS[name];
        if (!kind.searchUrl) return;
        var field = kind.fields[0].key;
        var ids = [];
        doc.sections.forEach(function (section) {
          section.columns.forEach(function (column) {
            column.blocks.forEach(function (block) {
              if (block.type === name && typeof block[field] === "number" && ids.indexOf(block[field]) < 0) ids.push(block[field]);
            });
          });
        });
        if (!ids.length) return;
        searchProducts(kind.searchUrl, { ids: ids.slice(0, 50).join(",") }).then(function (results) {
          results.forEach(function (result) { kind.labels[String(result.id)] = result.label; });
          renderCanvas();
          renderPanel();
        });
      });
    }

    // A personal field put into a heading's or a text's words at the cursor, as
    // {{field|fallback}}: the server turns it into the contact's value (escaped).
    function personalPicker(input) {
      var box = el("fieldset", { class: "blocks-personal" });
      box.append(el("legend", {}, "Insert a personal field at the cursor"));
      var field = el("select", { id: "block-personal-field" });
      Object.keys(options.fields).forEach(function (key) { field.append(el("option", { value: key }, options.fields[key])); });
      var fallback = el("input", { id: "block-personal-fallback", type: "text", maxlength: "100", placeholder: "there" });
      var insert = el("button", { type: "button", class: "outline small" }, "Insert");
      var status = el("small", { role: "status", class: "muted" });
      insert.addEventListener("click", function () {
        var rest = fallback.value.trim();
        var tag = "{{" + field.value + (rest ? "|" + rest : "") + "}}";
        var start = input.selectionStart === null ? input.value.length : input.selectionStart;
        var end = input.selectionEnd === null ? start : input.selectionEnd;
        input.value = input.value.slice(0, start) + tag + input.value.slice(end);
        input.focus();
        input.setSelectionRange(start + tag.length, start + tag.length);
        input.dispatchEvent(new Event("input", { bubbles: true }));
        status.textContent = "Inserted " + options.fields[field.value] + ".";
      });
      var row = el("div", { class: "blocks-personal-row" });
      var fieldWrap = el("div", {});
      fieldWrap.append(el("label", { for: "block-personal-field" }, "Field"), field);
      var fallbackWrap = el("div", {});
      fallbackWrap.append(el("label", { for: "block-personal-fallback" }, "When the contact has none"), fallback);
      row.append(fieldWrap, fallbackWrap, insert);
      box.append(row, status);
      return box;
    }

    function uploadControl(block, input, path) {
      var url = root.getAttribute("data-upload-url");
      var box = el("div", {});
      if (!url) return box;
      var file = el("input", { type: "file", accept: "image/png,image/jpeg,image/gif,image/webp", id: "block-upload" });
      var label = el("label", { for: "block-upload" }, "Or upload an image (PNG, JPEG, GIF or WebP, up to 5 MB)");
      var status = el("small", { role: "status" });
      file.addEventListener("change", function () {
        if (!file.files.length) return;
        var data = new FormData();
        data.append("file", file.files[0]);
        data.append("csrfmiddlewaretoken", form.querySelector("[name='csrfmiddlewaretoken']").value);
        status.textContent = "Uploading…";
        fetch(url, { method: "POST", body: data, credentials: "same-origin" })
          .then(function (response) { return response.json().then(function (body) { return [response.ok, body]; }); })
          .then(function (result) {
            if (!result[0]) {
              var fields = (result[1].error && result[1].error.fields) || {};
              status.textContent = (fields.file || [result[1].error ? result[1].error.message : "Upload failed"]).join("; ");
              return;
            }
            block.src = result[1].url;
            input.value = result[1].url;
            touched.add(path + ".src");
            status.textContent = "Uploaded.";
            renderCanvas();
            changed();
          })
          .catch(function () { status.textContent = "Upload failed; try again."; });
      });
      box.append(label, file, status);
      return box;
    }

    function socialInputs(block, path) {
      var wrap = el("fieldset", {});
      wrap.append(el("legend", {}, "Profile links (leave empty to hide a network)"));
      options.networks.forEach(function (network) {
        var id = "social-" + network;
        var existing = (block.links || []).filter(function (l) { return l.network === network; })[0];
        var input = el("input", { id: id, type: "url", placeholder: "https://" });
        input.value = existing ? existing.url : "";
        input.addEventListener("input", function () {
          block.links = options.networks.map(function (n) {
            var value = document.getElementById("social-" + n).value.trim();
            return value ? { network: n, url: value } : null;
          }).filter(Boolean);
          touched.add(path + ".links");
          renderCanvas();
          changed();
        });
        wrap.append(el("label", { for: id }, network === "x" ? "X" : network.charAt(0).toUpperCase() + network.slice(1)), input);
      });
      wrap.append(el("small", { class: "field-error", "data-block-error-prefix": path + ".links", hidden: "" }));
      return wrap;
    }

    function renderPanel() {
      panel.replaceChildren();
      var block = current();
      if (!block) {
        panel.append(el("p", { class: "muted" }, "Choose a block to edit it, or add one."));
        return;
      }
      var kind = KINDS[block.type];
      var path = blockPath(selected[0], selected[1], selected[2]);
      panel.append(el("h3", {}, kind.label));
      kind.fields.forEach(function (field) { panel.append(fieldInput(block, field, path)); });
      if (kind.social) panel.append(socialInputs(block, path));
      showErrors();
    }

    function showErrors() {
      canvas.querySelectorAll(".blocks-item").forEach(function (row) {
        var prefix = row.getAttribute("data-path") + ".";
        var bad = Object.keys(lastErrors).some(function (key) {
          return key.indexOf(prefix) === 0 && touched.has(key.replace(/\.links\[\d+\].*/, ".links"));
        });
        row.classList.toggle("has-error", bad);
      });
      panel.querySelectorAll("[data-block-error]").forEach(function (slot) {
        var key = slot.getAttribute("data-block-error");
        var show = lastErrors[key] && touched.has(key);
        slot.textContent = show ? lastErrors[key].join("; ") : "";
        slot.hidden = !show;
      });
      panel.querySelectorAll("[data-block-error-prefix]").forEach(function (slot) {
        var prefix = slot.getAttribute("data-block-error-prefix");
        var reasons = Object.keys(lastErrors).filter(function (key) { return key.indexOf(prefix) === 0; })
          .map(function (key) { return lastErrors[key].join("; "); });
        var show = reasons.length > 0 && touched.has(prefix);
        slot.textContent = show ? reasons.join("; ") : "";
        slot.hidden = !show;
      });
    }

    function update() {
      renderCanvas();
      renderPanel();
      changed();
    }

    hidden.value = JSON.stringify(doc);
    renderCanvas();
    renderPanel();
    loadChosenLabels();
    return { showErrors: showErrors };
  }

  showFieldErrors();
})();
