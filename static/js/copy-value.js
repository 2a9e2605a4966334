/* "Copy" buttons: <button data-copy-from="ID"> copies the text of the element with
 * that id to the clipboard and says so on the button for a moment. Delegated from
 * the document, so buttons htmx swaps in work too. */
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-copy-from]");
    if (!button) {
      return;
    }
    const source = document.getElementById(button.dataset.copyFrom);
    if (!source || !navigator.clipboard) {
      return;
    }
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      const label = button.textContent;
      button.textContent = "Copied";
      window.setTimeout(function () {
        button.textContent = label;
      }, 1500);
    });
  });
})();
