"""The report's one inline script: sortable, filterable, paginated row tables.

Each ``div.rows`` names a ``<script type="application/json">`` block holding
``{"columns": [...], "numeric": [...], "rows": [[...], ...]}``. The script renders only the
visible page of rows (``PAGE_ROWS``), so 10,000 rows open and filter at once, and writes
every cell with ``textContent``: text from the inputs never becomes markup. The page's
Content-Security-Policy allows this script by its hash and nothing else.
"""

from __future__ import annotations

# Rows shown per page of a table.
PAGE_ROWS = 50

SCRIPT = """
"use strict";
(function () {
  var PAGE = {page_rows};
  function el(name, text, cls) {
    var node = document.createElement(name);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }
  function cell(value) {
    if (value === null || value === undefined) return "";
    if (typeof value === "number" && !Number.isInteger(value)) {
      return String(Math.round(value * 1000) / 1000);
    }
    return String(value);
  }
  function setup(box) {
    var data = JSON.parse(document.getElementById(box.dataset.source).textContent);
    var rows = data.rows, columns = data.columns, numeric = data.numeric;
    var text = rows.map(function (r) { return r.map(cell).join("\\u0001").toLowerCase(); });
    var all = rows.map(function (_, i) { return i; });
    var state = { shown: all, page: 0, sortBy: -1, descending: false };
    var controls = el("div", null, "rows-controls");
    var filter = el("input");
    filter.type = "search";
    filter.placeholder = "filter rows (any column)";
    filter.setAttribute("aria-label", "filter rows");
    var previous = el("button", "previous"), next = el("button", "next");
    var status = el("span", null, "rows-status");
    controls.append(filter, previous, next, status);
    var table = el("table"), head = el("thead"), body = el("tbody"), header = el("tr");
    columns.forEach(function (name, c) {
      var th = el("th"), button = el("button", name);
      button.title = "sort by " + name;
      button.addEventListener("click", function () { sort(c); });
      th.append(button);
      header.append(th);
    });
    head.append(header);
    table.append(head, body);
    var scroll = el("div", null, "scroll");
    scroll.append(table);
    box.append(controls, scroll);
    function compare(c) {
      return function (a, b) {
        var x = rows[a][c], y = rows[b][c];
        var xEmpty = x === null || x === "", yEmpty = y === null || y === "";
        if (xEmpty || yEmpty) return xEmpty === yEmpty ? a - b : (xEmpty ? 1 : -1);
        var order = numeric[c] ? x - y : String(x).localeCompare(String(y));
        if (state.descending) order = -order;
        return order || a - b;
      };
    }
    function sort(c) {
      state.descending = state.sortBy === c ? !state.descending : false;
      state.sortBy = c;
      state.shown = state.shown.slice().sort(compare(c));
      Array.prototype.forEach.call(header.children, function (th, i) {
        if (i === c) th.setAttribute("aria-sort", state.descending ? "descending" : "ascending");
        else th.removeAttribute("aria-sort");
      });
      state.page = 0;
      draw();
    }
    function apply() {
      var query = filter.value.trim().toLowerCase();
      state.shown = query ? all.filter(function (i) { return text[i].indexOf(query) >= 0; }) : all;
      if (state.sortBy >= 0) state.shown = state.shown.slice().sort(compare(state.sortBy));
      state.page = 0;
      draw();
    }
    function draw() {
      var pages = Math.max(1, Math.ceil(state.shown.length / PAGE));
      state.page = Math.min(Math.max(state.page, 0), pages - 1);
      var start = state.page * PAGE, end = Math.min(start + PAGE, state.shown.length);
      var fragment = document.createDocumentFragment();
      for (var k = start; k < end; k++) {
        var row = rows[state.shown[k]], tr = el("tr");
        for (var c = 0; c < columns.length; c++) {
          var td = el("td", cell(row[c]), numeric[c] ? "num" : null);
          if (columns[c] === "error" && row[c]) td.className = "error";
          tr.append(td);
        }
        fragment.append(tr);
      }
      body.replaceChildren(fragment);
      var filtered = state.shown.length < rows.length ? " (filtered from " +
        rows.length.toLocaleString("en") + ")" : "";
      status.textContent = (state.shown.length ? (start + 1) + "\\u2013" + end : "0") + " of " +
        state.shown.length.toLocaleString("en") + " rows" + filtered + ", page " +
        (state.page + 1) + " of " + pages;
      previous.disabled = state.page === 0;
      next.disabled = state.page >= pages - 1;
    }
    filter.addEventListener("input", apply);
    previous.addEventListener("click", function () { state.page--; draw(); });
    next.addEventListener("click", function () { state.page++; draw(); });
    draw();
  }
  document.querySelectorAll("div.rows").forEach(setup);
})();
""".replace("{page_rows}", str(PAGE_ROWS))
