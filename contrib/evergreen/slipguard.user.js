// ==UserScript==
// @name        slipguard for the Evergreen staff client
// @description Sends receipts to slipguard on this PC (printed redacted, no print dialog).
// @match       https://evergreen.library.example/eg/*
// @match       https://evergreen.library.example/eg2/*
// @grant       none
// @run-at      document-start
// ==/UserScript==
//
// Evergreen's browser client prints a receipt by rendering its print template into the
// page's print container and calling window.print(): <div id="print-div" eg-print-container>
// in the AngularJS staff client, #print-div in the Angular client (3.16.7 on), and
// #eg-print-container in Angular clients before it. This script takes over window.print():
// when a container holds a receipt, the receipt goes to slipguard instead.
// When slipguard cannot be reached, the browser's dialog prints it as before; when slipguard
// refuses it, nothing prints (the browser would print it unredacted) and an alert says why.
// With Hatch printing enabled Evergreen does not call window.print(), and this does nothing.
//
// Set PRINTER to the printer's name in /etc/slipguard/slipguard.toml, the @match lines to
// your staff client's address, and add that origin to allowed_origins of the http listener.
(function () {
    var SLIPGUARD = "http://127.0.0.1:9180";
    var PRINTER = "front-desk";
    var WAIT_MS = 5000;
    var browserPrint = window.print.bind(window);

    // The first print container on the page that holds something.
    function findContainer() {
        var all = document.querySelectorAll("#print-div, [eg-print-container], #eg-print-container");
        for (var i = 0; i < all.length; i++) {
            if (all[i].innerHTML.trim()) {
                return all[i];
            }
        }
        return null;
    }

    function mark(outcome) {
        document.documentElement.setAttribute("data-slipguard", outcome);
    }

    window.print = function () {
        var container = findContainer();
        var receipt = container ? container.innerHTML.trim() : "";
        if (!receipt) {
            return browserPrint();
        }
        var abort = typeof AbortController === "function" ? new AbortController() : null;
        var timer = abort && setTimeout(function () { abort.abort(); }, WAIT_MS);
        fetch(SLIPGUARD + "/v1/printers/" + encodeURIComponent(PRINTER) + "/slips", {
            method: "POST",
            headers: { "Content-Type": "text/html; charset=utf-8" },
            body: receipt,
            signal: abort ? abort.signal : undefined
        }).then(function (response) {
            if (timer) { clearTimeout(timer); }
            return response.json().catch(function () { return {}; }).then(function (answer) {
                if (response.status === 202) {
                    mark("printed " + answer.job);
                } else {
                    mark("refused: " + (answer.error || "HTTP " + response.status));
                    window.alert("Not printed: slipguard refused this receipt (" +
                        (answer.error || "HTTP " + response.status) + ").");
                }
            });
        }, function () {
            if (timer) { clearTimeout(timer); }
            mark("unreachable");
            // The client may have emptied the container since: print what it held.
            if (container) { container.innerHTML = receipt; }
            browserPrint();
        });
    };
})();
