// Shelf's small enhancements. Every page works without this file (and without htmx): it only
// makes what is there nicer to use. The one per-visitor thing here is a form's CSRF token, for
// pages that an edge cache keeps for everyone and so carry none (shelf/edge.py): it is fetched
// from /csrf/ at the first use of such a form. (Without this file, such a form is asked to be
// confirmed once on a page of the visitor's own.)
(function () {
  "use strict";
  var root = document.documentElement;

  var EMPTY_TOKEN = 'input[name="csrfmiddlewaretoken"][value=""]';
  var pending = null;
  // One request for every form of the page; null again after a failure, to retry later.
  function fillTokens() {
    if (!pending) {
      pending = fetch("/csrf/", { credentials: "same-origin", cache: "no-store" })
        .then(function (response) {
          if (!response.ok) throw new Error("csrf " + response.status);
          return response.json();
        })
        .then(function (data) {
          document.querySelectorAll(EMPTY_TOKEN).forEach(function (input) {
            input.value = data.token;
          });
        })
        .catch(function () { pending = null; });
    }
    return pending;
  }
  function needsToken(form) {
    return form && form.querySelector && form.querySelector(EMPTY_TOKEN);
  }
  // htmx's requests: held until the token is in the form (htmx reads the form afterwards).
  document.addEventListener("htmx:confirm", function (event) {
    var form = event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    if (!needsToken(form)) return;
    event.preventDefault();
    fillTokens().then(function () { event.detail.issueRequest(true); });
  });
  // Plain submissions (no htmx on the form, or htmx missing): the same, then submit again.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || !needsToken(form) || form.dataset.tokenAsked) return;
    if (window.htmx && form.hasAttribute("hx-post")) return;
    event.preventDefault();
    var submitter = event.submitter;
    // Asked once: still without a token (the request failed), it is sent as it is and
    // confirmed on the next page.
    form.dataset.tokenAsked = "1";
    fillTokens().then(function () {
      if (form.requestSubmit) form.requestSubmit(submitter || undefined);
      else form.submit();
    });
  });
  // Controls that only matter without htmx (the cart's "Update" buttons) hide once it is there.
  if (window.htmx) root.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  ready(function () {
    // A form that came back with errors: take the keyboard and screen reader to the summary.
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();

    // Search filters start folded on narrow screens, so the results come first.
    var refine = document.querySelector("details.refine");
    if (refine && window.matchMedia("(max-width: 719px)").matches) refine.open = false;

    document.querySelectorAll(".gallery").forEach(galleryInit);
    document.querySelectorAll("[data-variant-choice]").forEach(variantChoiceInit);
  });

  // Product gallery: thumbnails scroll the main strip instead of jumping the page.
  function galleryInit(gallery) {
    var strip = gallery.querySelector(".gallery-main");
    var thumbs = gallery.querySelectorAll(".gallery-thumbs a");
    if (!strip || !thumbs.length) return;
    function mark(index) {
      thumbs.forEach(function (t, i) {
        if (i === index) t.setAttribute("aria-current", "true");
        else t.removeAttribute("aria-current");
      });
    }
    thumbs.forEach(function (thumb, index) {
      thumb.addEventListener("click", function (event) {
        event.preventDefault();
        strip.scrollTo({ left: index * strip.clientWidth });
        mark(index);
      });
    });
    strip.addEventListener("scroll", function () {
      mark(Math.round(strip.scrollLeft / Math.max(1, strip.clientWidth)));
    }, { passive: true });
  }

  // Choosing a variant switches at once, from what the page already holds: one <template> per
  // variant with its price, picture, and its stock badge and buttons filled for this response.
  // Without this file the form's button reloads the page with the choice instead.
  function variantChoiceInit(form) {
    var box = document.querySelector("[data-variant-box]");
    var variants = Array.prototype.slice.call(document.querySelectorAll("template[data-variant]"));
    if (!box || !variants.length) return;
    var show = form.querySelector(".variant-show");
    if (show) show.hidden = true;
    form.addEventListener("change", function (event) {
      var changed = event.target.name, chosen = {};
      form.querySelectorAll("input[type=radio]:checked").forEach(function (input) {
        chosen[input.name] = input.value;
      });
      // The variant with the value just chosen that matches most of the others (a size may
      // not come in every colour): the other choices follow it.
      var best = null, bestScore = -1;
      variants.forEach(function (variant) {
        var values = JSON.parse(variant.dataset.values), score = 0;
        if (values[changed] !== chosen[changed]) return;
        Object.keys(values).forEach(function (key) { if (values[key] === chosen[key]) score++; });
        if (score > bestScore) { best = variant; bestScore = score; }
      });
      if (best) variantShow(form, box, best);
    });
  }

  function variantShow(form, box, variant) {
    var values = JSON.parse(variant.dataset.values);
    Object.keys(values).forEach(function (key) {
      form.querySelectorAll("input[type=radio]").forEach(function (input) {
        if (input.name === key) input.checked = input.value === values[key];
      });
    });
    var parts = variant.content;
    function part(name) { return parts.querySelector('[data-part="' + name + '"]'); }
    ["label", "price", "stock", "buy"].forEach(function (name) {
      var target = box.querySelector('[data-part="' + name + '"]');
      if (target) target.innerHTML = part(name).innerHTML;
    });
    box.querySelector('[data-part="id"]').value = variant.dataset.id;
    box.querySelector('[data-part="url"]').value = variant.dataset.url;
    var sku = document.querySelector('dd[data-part="sku"]');
    if (sku) sku.textContent = part("sku").textContent;
    var gallery = document.querySelector(".gallery");
    if (gallery) {
      gallery.innerHTML = part("gallery").innerHTML;
      galleryInit(gallery);
    }
    // The address says the choice, so that it can be shared or reloaded.
    if (window.history && history.replaceState) history.replaceState(null, "", variant.dataset.url);
  }

  // A refused change is answered 400 with the page that says why (the cart, with the message
  // beside the line): swap it in like any answer, as the browser shows it without htmx.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr.status === 400 && event.detail.serverResponse) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // Filters and sort apply as soon as a choice changes (forms marked data-autosubmit; a control
  // may sit outside its form, joined by form="..."). Typed fields (prices) still wait for the
  // button or Enter. Without this file the forms keep their "Apply" and "Sort" buttons.
  document.addEventListener("change", function (event) {
    var control = event.target;
    var form = control && control.form;
    if (!form || !form.hasAttribute("data-autosubmit")) return;
    if (!/^(select-one|radio|checkbox)$/.test(control.type)) return;
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  });

  // After an htmx change (add to cart, quantity), show the message where the shopper is looking.
  var hideTimer = null;
  document.addEventListener("htmx:oobAfterSwap", function (event) {
    var box = event.detail && event.detail.target;
    if (!box || box.id !== "messages" || !box.textContent.trim()) return;
    var rect = box.getBoundingClientRect();
    if (rect.top >= 0 && rect.bottom <= window.innerHeight && !box.classList.contains("toast")) return;
    box.classList.add("toast");
    clearTimeout(hideTimer);
    hideTimer = setTimeout(function () { box.classList.remove("toast"); }, 6000);
  });
})();
