// Refreshes the leaderboard table in place every REFRESH_MS while the tab is visible.
// The page is complete without this script: it only swaps in the server-rendered table
// fragment named by data-refresh-url, so escaping and translation stay on the server.
"use strict";
(function () {
  const REFRESH_MS = 5000;
  const region = document.getElementById("board-table");
  if (!region || !region.dataset.refreshUrl) {
    return;
  }

  async function refresh() {
    if (document.visibilityState !== "visible") {
      return;
    }
    try {
      const response = await fetch(region.dataset.refreshUrl, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (response.ok) {
        region.innerHTML = await response.text();
      }
    } catch (error) {
      // A failed refresh keeps the table on screen; the next one may succeed.
    }
  }

  setInterval(refresh, REFRESH_MS);
})();
