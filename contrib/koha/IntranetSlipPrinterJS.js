/*
 * slipguard for Koha: paste this into Administration > System preferences >
 * IntranetSlipPrinterJS. Koha's slip page then sends the slip to slipguard on the desk PC,
 * which prints it on the receipt printer with patron data redacted, and the page closes:
 * no print dialog.
 *
 * Set PRINTER to the printer's name in /etc/slipguard/slipguard.toml, and add the staff
 * client's address (as the browser shows it, e.g. https://staff.library.example) to
 * allowed_origins of the http listener there.
 *
 * When slipguard cannot be reached (not installed on this PC, not running), the slip goes
 * to the browser's print dialog as before. When slipguard answers but refuses the slip
 * (it could not be read safely, the printer is unknown), nothing is printed and the page
 * says why: printing it through the browser would print it unredacted.
 *
 * The outcome is also left on the page for troubleshooting (developer tools):
 * <html data-slipguard="printed JOB | refused: WHY | unreachable">.
 */
(function () {
    var SLIPGUARD = "http://127.0.0.1:9180";
    var PRINTER = "front-desk";
    var WAIT_MS = 5000;

    function mark(outcome) {
        document.documentElement.setAttribute("data-slipguard", outcome);
    }

    function printInBrowser() {
        mark("unreachable");
        window.onafterprint = function () {
            window.close();
        };
        window.print();
    }

    function refused(why) {
        mark("refused: " + why);
        var note = document.createElement("p");
        note.style.cssText = "font: 14px sans-serif; color: #a00; border: 1px solid #a00; padding: 6px";
        note.textContent = "Not printed: slipguard refused this slip (" + why + ").";
        document.body.insertBefore(note, document.body.firstChild);
    }

    window.addEventListener("load", function () {
        var slip = document.getElementById("receipt") || document.body;
        var abort = typeof AbortController === "function" ? new AbortController() : null;
        var timer = abort && setTimeout(function () { abort.abort(); }, WAIT_MS);
        fetch(SLIPGUARD + "/v1/printers/" + encodeURIComponent(PRINTER) + "/slips", {
            method: "POST",
            headers: { "Content-Type": "text/html; charset=utf-8" },
            body: slip.innerHTML,
            signal: abort ? abort.signal : undefined
        }).then(function (response) {
            if (timer) { clearTimeout(timer); }
            return response.json().catch(function () { return {}; }).then(function (answer) {
                if (response.status === 202) {
                    mark("printed " + answer.job);
                    window.close();
                } else {
                    refused(answer.error || "HTTP " + response.status);
                }
            });
        }, function () {
            if (timer) { clearTimeout(timer); }
            printInBrowser();
        });
    });
})();
