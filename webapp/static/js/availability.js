// The availability editor: add and remove ranges, copy a day's hours to other
// days, add and remove dated exceptions. Without JavaScript the form still
// works: each day and one blank exception have a row to type in.
(function () {
  "use strict";
  var form = document.getElementById("availability");
  if (!form) return;

  form.querySelectorAll("[data-js]").forEach(function (el) { el.hidden = false; });
  form.querySelectorAll("[data-remove], [data-remove-exception]").forEach(function (el) { el.hidden = false; });

  // A new row named after its fieldset's prefix ("w3", "x2") and the next free number.
  function addRange(fieldset, start, end) {
    var list = fieldset.querySelector("[data-ranges]");
    var model = list.querySelector("[data-range]");
    var row = model.cloneNode(true);
    var n = Number(fieldset.dataset.next || 0);
    fieldset.dataset.next = String(n + 1);
    var prefix = fieldset.dataset.prefix;
    var inputs = row.querySelectorAll("input");
    inputs[0].name = prefix + "_" + n + "_start";
    inputs[1].name = prefix + "_" + n + "_end";
    inputs[0].value = start || "";
    inputs[1].value = end || "";
    row.classList.remove("has-error");
    row.querySelectorAll(".error").forEach(function (e) { e.remove(); });
    list.appendChild(row);
    return inputs[0];
  }

  function rangesOf(fieldset) {
    return Array.prototype.map.call(fieldset.querySelectorAll("[data-range]"), function (row) {
      var inputs = row.querySelectorAll("input");
      return [inputs[0].value, inputs[1].value];
    }).filter(function (pair) { return pair[0] || pair[1]; });
  }

  function setRanges(fieldset, ranges) {
    var rows = fieldset.querySelectorAll("[data-range]");
    for (var i = 1; i < rows.length; i++) rows[i].remove();
    var first = fieldset.querySelectorAll("[data-range] input");
    first[0].value = ranges.length ? ranges[0][0] : "";
    first[1].value = ranges.length ? ranges[0][1] : "";
    ranges.slice(1).forEach(function (pair) { addRange(fieldset, pair[0], pair[1]); });
  }

  form.addEventListener("click", function (event) {
    var target = event.target;
    var fieldset = target.closest("fieldset");
    if (target.matches("[data-add]")) {
      addRange(fieldset).focus();
    } else if (target.matches("[data-remove]")) {
      var row = target.closest("[data-range]");
      if (fieldset.querySelectorAll("[data-range]").length > 1) {
        row.remove();
      } else {
        row.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      }
    } else if (target.matches("[data-copy]")) {
      var ranges = rangesOf(fieldset);
      fieldset.querySelectorAll("[data-copy-to]:checked").forEach(function (box) {
        setRanges(form.querySelector('fieldset[data-day="' + box.value + '"]'), ranges);
        box.checked = false;
      });
      target.closest("details").open = false;
    } else if (target.matches("[data-remove-exception]")) {
      var all = form.querySelectorAll("[data-exception]");
      if (all.length > 1) {
        fieldset.remove();
      } else {
        fieldset.querySelectorAll("input").forEach(function (input) {
          if (input.type === "checkbox") input.checked = false; else input.value = "";
        });
      }
    }
  });

  var addException = document.getElementById("add-exception");
  if (addException) {
    addException.addEventListener("click", function () {
      var box = document.getElementById("exceptions");
      var models = box.querySelectorAll("[data-exception]");
      var copy = models[models.length - 1].cloneNode(true);
      var i = Number(box.dataset.next || models.length);
      box.dataset.next = String(i + 1);
      copy.dataset.prefix = "x" + i;
      copy.dataset.next = "1";
      copy.classList.remove("has-error");
      copy.querySelectorAll(".error").forEach(function (e) { e.remove(); });
      var rows = copy.querySelectorAll("[data-range]");
      for (var r = 1; r < rows.length; r++) rows[r].remove();
      copy.querySelector("input[type=date]").name = "x" + i + "_date";
      copy.querySelector("input[type=checkbox]").name = "x" + i + "_closed";
      var times = copy.querySelectorAll("[data-range] input");
      times[0].name = "x" + i + "_0_start";
      times[1].name = "x" + i + "_0_end";
      copy.querySelectorAll("input").forEach(function (input) {
        if (input.type === "checkbox") input.checked = false; else input.value = "";
      });
      copy.querySelector("legend").textContent = addException.dataset.legend || copy.querySelector("legend").textContent;
      box.appendChild(copy);
      copy.querySelector("input[type=date]").focus();
    });
  }
})();
