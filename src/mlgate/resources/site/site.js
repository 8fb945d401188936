// mlgate governance site: search and filters for the models table (progressive enhancement:
// without JavaScript every row shows). Plain JS, no framework, nothing fetched.
(function () {
  "use strict";
  var table = document.getElementById("models");
  var search = document.getElementById("search");
  var owner = document.getElementById("filter-owner");
  var state = document.getElementById("filter-state");
  var shown = document.getElementById("shown");
  if (!table || !search || !owner || !state) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  function apply() {
    var q = search.value.trim().toLowerCase();
    var o = owner.value;
    var s = state.value;
    var visible = 0;
    rows.forEach(function (row) {
      var owners = (row.getAttribute("data-owner") || "").split(" ");
      var ok = (!q || row.textContent.toLowerCase().indexOf(q) !== -1) &&
        (!o || owners.indexOf(o) !== -1) &&
        (!s || row.getAttribute("data-state") === s);
      row.hidden = !ok;
      if (ok) { visible += 1; }
    });
    shown.textContent = visible + " of " + rows.length + " rows shown";
  }
  if (search.form) { search.form.addEventListener("submit", function (event) { event.preventDefault(); apply(); }); }
  search.addEventListener("input", apply);
  owner.addEventListener("change", apply);
  state.addEventListener("change", apply);
  apply();
}());
