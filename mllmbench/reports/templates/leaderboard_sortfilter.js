(function () {
  "use strict";
  // Sort and filter for tables marked data-sortable; no dependencies, no network.
  function sortValue(row, col, kind) {
    var cell = row.cells[col];
    if (!cell) { return null; }
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent.trim(); }
    if (kind === "num") {
      if (raw === "") { return null; }
      var f = parseFloat(raw);
      return isNaN(f) ? null : f;
    }
    return raw.toLowerCase();
  }

  function setup(table) {
    var body = table.tBodies[0];
    var heads = table.tHead.rows[0].cells;
    var controls = document.querySelector('[data-controls-for="' + table.id + '"]');
    var text = controls ? controls.querySelector(".filter-text") : null;
    var group = controls ? controls.querySelector(".filter-group") : null;
    var byGroup = controls ? controls.querySelector(".group-toggle") : null;
    var count = controls ? controls.querySelector(".count") : null;
    var state = { col: -1, dir: 1 };

    function compare(a, b) {
      if (byGroup && byGroup.checked) {
        var ga = a.getAttribute("data-group") || "", gb = b.getAttribute("data-group") || "";
        if (ga !== gb) { return ga < gb ? -1 : 1; }
      }
      if (state.col >= 0) {
        var kind = heads[state.col].getAttribute("data-kind") || "text";
        var va = sortValue(a, state.col, kind), vb = sortValue(b, state.col, kind);
        if (va === null && vb !== null) { return 1; }
        if (vb === null && va !== null) { return -1; }
        if (va !== null && vb !== null && va !== vb) { return (va < vb ? -1 : 1) * state.dir; }
      }
      return Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
    }

    function apply() {
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(compare);
      var query = text ? text.value.trim().toLowerCase() : "";
      var wanted = group ? group.value : "";
      var shown = 0, last = null;
      rows.forEach(function (row) {
        body.appendChild(row);
        var ok = (!query || row.textContent.toLowerCase().indexOf(query) >= 0) &&
                 (!wanted || row.getAttribute("data-group") === wanted);
        row.hidden = !ok;
        row.classList.remove("group-start");
        if (ok) {
          shown += 1;
          var g = row.getAttribute("data-group");
          if (byGroup && byGroup.checked && last !== null && g !== last) { row.classList.add("group-start"); }
          last = g;
        }
      });
      if (count) { count.textContent = shown + " of " + rows.length + " rows shown"; }
    }

    Array.prototype.forEach.call(heads, function (th, col) {
      var button = th.querySelector("button");
      if (!button) { return; }
      button.addEventListener("click", function () {
        if (state.col === col) {
          state.dir = -state.dir;
        } else {
          state.col = col;
          state.dir = th.getAttribute("data-dir") === "desc" ? -1 : 1;
        }
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", state.dir === 1 ? "ascending" : "descending");
        apply();
      });
    });
    if (text) { text.addEventListener("input", apply); }
    if (group) { group.addEventListener("change", apply); }
    if (byGroup) { byGroup.addEventListener("change", apply); }
    apply();
  }

  Array.prototype.forEach.call(document.querySelectorAll("table[data-sortable]"), setup);
})();
