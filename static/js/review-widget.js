/* Stagecraft's review widget, for a business's own site (the snippet is on the
 * dashboard's Reviews page):
 *
 *   <div data-stagecraft-reviews="WORKSPACE-SLUG" data-product="SKU-1" data-limit="5"></div>
 *   <script src="https://STAGECRAFT-HOST/static/js/review-widget.js" async></script>
 *
 * Every such element gets the workspace's approved reviews (of that product, or all
 * without data-product) from /widget/reviews/<slug>/ on the host the script came from:
 * the average in stars, the count, and each review's stars, text, author and date.
 * Every value is set as text (never as HTML), so a review cannot inject markup. */
(function () {
  "use strict";

  var script = document.currentScript;
  var origin = script ? new URL(script.src, window.location.href).origin : "";
  var STYLE_ID = "stagecraft-reviews-style";
  var CSS =
    ".sc-reviews{font:inherit;color:inherit;max-width:40rem}" +
    ".sc-reviews-summary{display:flex;gap:.5rem;align-items:baseline;flex-wrap:wrap;margin-bottom:.75rem}" +
    ".sc-stars{color:#e0a100;letter-spacing:.1em;white-space:nowrap}" +
    ".sc-review{border-top:1px solid rgba(127,127,127,.3);padding:.75rem 0}" +
    ".sc-review p{margin:.25rem 0;overflow-wrap:anywhere}" +
    ".sc-review-meta{opacity:.7;font-size:.875em}";

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined && text !== null) {
      node.textContent = String(text);
    }
    return node;
  }

  function stars(rating) {
    var whole = Math.max(0, Math.min(5, Math.round(Number(rating) || 0)));
    var node = el("span", "sc-stars", "★★★★★".slice(0, whole) + "☆☆☆☆☆".slice(0, 5 - whole));
    node.setAttribute("role", "img");
    node.setAttribute("aria-label", (Number(rating) || 0) + " out of 5 stars");
    return node;
  }

  function render(root, data) {
    root.textContent = "";
    var box = el("div", "sc-reviews");
    var summary = el("div", "sc-reviews-summary");
    if (!data.count) {
      summary.appendChild(el("span", "", "No reviews yet."));
      box.appendChild(summary);
      root.appendChild(box);
      return;
    }
    summary.appendChild(stars(data.average));
    summary.appendChild(el("strong", "", Number(data.average).toFixed(1) + " out of 5"));
    summary.appendChild(
      el("span", "sc-review-meta", data.count + (data.count === 1 ? " review" : " reviews"))
    );
    box.appendChild(summary);
    (data.reviews || []).forEach(function (review) {
      var item = el("div", "sc-review");
      item.appendChild(stars(review.rating));
      if (review.text) {
        item.appendChild(el("p", "", review.text));
      }
      var meta = [review.author || "A customer", review.item_name, review.date]
        .filter(Boolean)
        .join(" · ");
      item.appendChild(el("p", "sc-review-meta", meta));
      box.appendChild(item);
    });
    root.appendChild(box);
  }

  function load(root) {
    var slug = root.getAttribute("data-stagecraft-reviews") || "";
    var params = new URLSearchParams();
    if (root.getAttribute("data-product")) {
      params.set("product", root.getAttribute("data-product"));
    }
    params.set("limit", root.getAttribute("data-limit") || "5");
    var url = origin + "/widget/reviews/" + encodeURIComponent(slug) + "/?" + params.toString();
    root.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.json();
      })
      .then(function (data) {
        render(root, data);
      })
      .catch(function () {
        root.textContent = "";
      })
      .then(function () {
        root.removeAttribute("aria-busy");
      });
  }

  function start() {
    if (!document.getElementById(STYLE_ID)) {
      var style = el("style");
      style.id = STYLE_ID;
      style.textContent = CSS;
      document.head.appendChild(style);
    }
    document.querySelectorAll("[data-stagecraft-reviews]").forEach(load);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
