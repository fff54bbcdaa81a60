// Starts Mirador on the page's manifest (a file, not inline: Kho's CSP allows no inline script).
(function () {
  var manifest = document.getElementById("mirador").dataset.manifest;
  var input = document.getElementById("manifest-url");
  input.addEventListener("focus", function () { input.select(); });
  // Kept on window so tests and page scripts can follow or drive the viewer's state.
  window.miradorInstance = Mirador.viewer({
    id: "mirador",
    language: "vi",
    windows: [{ manifestId: manifest }],
    window: { allowClose: false, defaultSideBarPanel: "info", sideBarOpenByDefault: false },
    workspaceControlPanel: { enabled: false }
  });
  var button = document.getElementById("copy-manifest");
  button.addEventListener("click", function () {
    var done = function () { button.textContent = "Đã sao chép"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done);
    } else {
      input.select(); document.execCommand("copy"); done();
    }
  });
})();
