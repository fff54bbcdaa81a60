/* Starts Mirador on #mirador (record page and /view): Kho's corrected Vietnamese strings,
   the reader's language, and a message for each page whose image cannot be served. */
(function () {
  "use strict";
  var root = document.getElementById("mirador");
  if (!root || typeof Mirador === "undefined") { return; }
  var manifest = root.dataset.manifest;
  var language = root.dataset.language || "vi";

  var pageNumber = parseInt(root.dataset.page || "0", 10);
  var query = root.dataset.query || "";

  function start(strings, doc) {
    // A search result's link opens its page, with the words searched inside the book.
    var opened = { manifestId: manifest };
    var canvas = pageNumber > 0 && doc.items && doc.items[pageNumber - 1];
    if (canvas) { opened.canvasId = canvas.id; }
    if (query) { opened.defaultSearchQuery = query; }
    // Kept on window so tests and page scripts can follow or drive the viewer's state.
    window.miradorInstance = Mirador.viewer({
      id: "mirador",
      language: language,
      availableLanguages: { vi: "Tiếng Việt", en: "English" },
      translations: strings,
      windows: [opened],
      window: { allowClose: false, allowMaximize: false, defaultSideBarPanel: "info",
                sideBarOpenByDefault: false },
      workspaceControlPanel: { enabled: false }
    });
  }

  function reportUnservable(doc) {
    var box = document.getElementById("viewer-problems");
    if (!box || !doc.items) { return; }
    doc.items.forEach(function (canvas, index) {
      var body = canvas.items && canvas.items[0] && canvas.items[0].items &&
                 canvas.items[0].items[0] && canvas.items[0].items[0].body;
      var service = body && body.service && body.service[0];
      if (!service) { return; }
      var id = service.id || service["@id"];
      // A small rendering, not info.json: the size is known from the catalogue even when the
      // stored bytes are damaged, the pixels are not.
      fetch(id + "/full/!64,64/0/default.jpg", { credentials: "same-origin" }).then(function (r) {
        if (r.ok) { return; }
        var item = document.createElement("li");
        item.textContent = (box.dataset.message || "Page {n} cannot be shown.")
          .replace("{n}", String(index + 1)) + " (" + r.status + ")";
        box.querySelector("ul").appendChild(item);
        box.hidden = false;
      });
    });
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : {}; })
      .catch(function () { return {}; });
  }

  Promise.all([fetchJson(root.dataset.strings), fetchJson(manifest)]).then(function (both) {
    start(both[0], both[1]);
    reportUnservable(both[1]);
  });
})();
