// Filters the worklist rows by any text in them; the page reads fine without it.
(function () {
  var tables = document.querySelectorAll("table.worklist");
  var anchor = document.getElementById("worklists");
  if (!anchor || !tables.length) { return; }
  var box = document.createElement("div");
  box.className = "filter";
  var input = document.createElement("input");
  input.type = "search";
  input.placeholder = "Filter worklists: image, CVE, cluster, repo...";
  input.setAttribute("aria-label", "Filter worklists");
  box.appendChild(input);
  anchor.insertAdjacentElement("afterend", box);
  input.addEventListener("input", function () {
    var needle = input.value.toLowerCase();
    tables.forEach(function (table) {
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var hit = row.textContent.toLowerCase().indexOf(needle) >= 0;
        row.hidden = !hit;
      });
    });
  });
})();
