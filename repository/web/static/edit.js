/* Dublin Core form: add and remove value rows (each row keeps unique ids for its labels). */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var rows = document.getElementById("dc-rows");
    if (!rows) { return; }
    var counter = rows.children.length;
    rows.addEventListener("click", function (e) {
      if (e.target.classList.contains("js-remove-row") && rows.children.length > 1) {
        e.target.closest(".dc-row").remove();
      }
    });
    document.getElementById("add-row").addEventListener("click", function () {
      counter += 1;
      var row = rows.lastElementChild.cloneNode(true);
      row.querySelectorAll("[id]").forEach(function (el) {
        var label = row.querySelector('label[for="' + el.id + '"]');
        el.id = el.id.replace(/-\d+$/, "-" + counter);
        if (label) { label.htmlFor = el.id; }
        if (el.tagName === "INPUT") { el.value = ""; }
      });
      rows.appendChild(row);
      row.querySelector("input").focus();
    });
  });
})();
