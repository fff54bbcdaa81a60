/* Deposit form: streams the chosen or dropped archive to POST /api/v1/deposits with a progress
   bar (the browser sends the file from disk, never whole in memory), then opens the status
   page. The status page polls the deposit and reloads when it is finished. */
(function () {
  "use strict";
  function setupForm(form) {
    var input = document.getElementById("file");
    var zone = document.getElementById("dropzone");
    var bar = document.getElementById("progress");
    var message = document.getElementById("upload-message");
    var chosen = null;
    input.addEventListener("change", function () { chosen = input.files[0] || null; });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer.files.length) {
        chosen = e.dataTransfer.files[0];
        message.textContent = chosen.name;
      }
    });
    document.getElementById("upload").addEventListener("click", function () {
      if (!form.collection.value.trim()) { form.collection.reportValidity(); return; }
      // A file chosen before this script ran (a slow load, a form the browser restored)
      // fired no change event here, so the input itself is asked too.
      chosen = chosen || input.files[0] || null;
      if (!chosen) { input.focus(); return; }
      var access = form.access.value;
      if (access === "embargoed") { access = "embargoed:" + form.embargo_until.value; }
      var params = new URLSearchParams({ collection: form.collection.value.trim(),
                                         access: access, filename: chosen.name });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.api + "?" + params.toString());
      xhr.setRequestHeader("X-CSRFToken", form.csrf_token.value);
      xhr.setRequestHeader("Content-Type", "application/octet-stream");
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = Math.round(100 * e.loaded / e.total);
          bar.textContent = bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status === 202 && body.identifier) {
          window.location.href = form.dataset.status.replace("ID", body.identifier);
        } else {
          message.textContent = form.dataset.failed + " " + (body.message || xhr.status);
        }
      });
      xhr.addEventListener("error", function () { message.textContent = form.dataset.failed; });
      xhr.send(chosen);
    });
  }

  function follow(box) {
    var finished = ["done", "failed"];
    if (finished.indexOf(box.dataset.status) >= 0) { return; }
    var timer = setInterval(function () {
      fetch(box.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (d) {
          if (d.status !== box.dataset.status) { clearInterval(timer); window.location.reload(); }
          var bar = document.getElementById("deposit-progress");
          var shown = document.getElementById("deposit-percent");
          if (bar && typeof d.percent === "number") {
            bar.value = d.percent;
            shown.textContent = d.percent + " %";
          }
        });
    }, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("deposit-form");
    if (form) { setupForm(form); }
    var box = document.getElementById("deposit-status");
    if (box) { follow(box); }
  });
})();
