/* Small behaviours of every page, without inline script: select-all fields, copy buttons,
   selects that submit their form. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".js-select-all").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
    document.querySelectorAll(".js-copy").forEach(function (button) {
      button.addEventListener("click", function () {
        var input = document.getElementById(button.dataset.target);
        var done = function () { button.textContent = button.dataset.done || "OK"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(done);
        } else {
          input.select(); document.execCommand("copy"); done();
        }
      });
    });
    document.querySelectorAll("form.js-autosubmit select").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
  });
})();
