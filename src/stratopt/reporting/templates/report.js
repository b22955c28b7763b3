(function () {
  "use strict";
  // The page's contract with tests and tools: ready once every figure is drawn.
  var state = { ready: false, plots: [], errors: [] };
  window.__STRATOPT_REPORT__ = state;
  window.addEventListener("error", function (e) { state.errors.push(String(e.message || e)); });
  window.addEventListener("unhandledrejection", function (e) { state.errors.push(String(e.reason)); });

  function data(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : {};
  }

  // plotly.js embedded as gzip+base64: unpacked here, then run as an inline script
  // (no fetch, no blob: URL, so the page makes no request at all).
  function loadPlotly() {
    var packed = document.getElementById("plotly-gzip-base64");
    if (!packed) { return Promise.resolve(); }
    if (typeof DecompressionStream === "undefined") {
      return Promise.reject(new Error("this browser cannot unpack the embedded plotly.js " +
        "(DecompressionStream: Chrome 80+, Firefox 113+, Safari 16.4+); " +
        "make the report with --plotlyjs inline"));
    }
    var text = atob(packed.textContent.trim());
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) { bytes[i] = text.charCodeAt(i); }
    var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).text().then(function (source) {
      var script = document.createElement("script");
      script.textContent = source;
      document.head.appendChild(script);
    });
  }

  var CONFIG = { responsive: true, displaylogo: false, scrollZoom: false,
                 modeBarButtonsToRemove: ["lasso2d", "select2d"],
                 toImageButtonOptions: { format: "svg" } };

  function drawFigures() {
    var figures = data("stratopt-figures");
    var ids = Object.keys(figures);
    var chain = Promise.resolve();
    ids.forEach(function (id) {
      chain = chain.then(function () {
        var div = document.getElementById(id);
        var fig = figures[id];
        return Plotly.newPlot(div, fig.data, fig.layout, CONFIG).then(function () {
          state.plots.push(id);
        }, function (err) {
          state.errors.push(id + ": " + err);
          div.textContent = "This figure could not be drawn: " + err;
        });
      });
    });
    return chain;
  }

  // ---- the trials table: sort, filter, CSV of the rows shown ----
  function csvCell(v) {
    if (v === null || v === undefined) { return ""; }
    var s = String(v);
    return /[",\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }

  function buildTable(wrapper, spec) {
    var table = wrapper.querySelector("table");
    var filter = wrapper.querySelector(".filter");
    var shown = wrapper.querySelector(".shown");
    var link = wrapper.querySelector(".download");
    var order = spec.display.map(function (_, i) { return i; });
    var sortCol = -1, sortDir = 1, visible = order.slice();
    var thead = document.createElement("thead"), tr = document.createElement("tr");
    spec.columns.forEach(function (name, c) {
      var th = document.createElement("th");
      th.textContent = name;
      if (spec.numeric[c]) { th.className = "n"; }
      th.addEventListener("click", function () {
        sortDir = sortCol === c ? -sortDir : 1;
        sortCol = c;
        render();
      });
      tr.appendChild(th);
    });
    thead.appendChild(tr);
    table.appendChild(thead);
    var tbody = document.createElement("tbody");
    table.appendChild(tbody);

    function compare(a, b) {
      var x = spec.raw[a][sortCol], y = spec.raw[b][sortCol];
      if (x === null && y === null) { return a - b; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      var d = spec.numeric[sortCol] ? x - y : String(x).localeCompare(String(y));
      return d === 0 ? a - b : sortDir * d;
    }

    function render() {
      var q = filter.value.trim().toLowerCase();
      visible = order.filter(function (i) {
        return !q || spec.display[i].join(" ").toLowerCase().indexOf(q) >= 0;
      });
      if (sortCol >= 0) { visible.sort(compare); }
      Array.prototype.forEach.call(tr.children, function (th, c) {
        th.classList.toggle("asc", c === sortCol && sortDir === 1);
        th.classList.toggle("desc", c === sortCol && sortDir === -1);
      });
      var rows = visible.map(function (i) {
        return "<tr>" + spec.display[i].map(function (cell, c) {
          var td = document.createElement("td");
          td.textContent = cell;
          if (spec.numeric[c]) { td.className = "n"; }
          return td.outerHTML;
        }).join("") + "</tr>";
      });
      tbody.innerHTML = rows.join("");
      shown.textContent = visible.length + " of " + spec.display.length + " rows";
      var lines = [spec.columns.map(csvCell).join(",")].concat(visible.map(function (i) {
        return spec.raw[i].map(csvCell).join(",");
      }));
      link.href = "data:text/csv;charset=utf-8," + encodeURIComponent(lines.join("\n") + "\n");
    }
    filter.addEventListener("input", render);
    render();
  }

  function buildTables() {
    var tables = data("stratopt-tables");
    Array.prototype.forEach.call(document.querySelectorAll("[data-table]"), function (w) {
      var spec = tables[w.getAttribute("data-table")];
      if (spec) { buildTable(w, spec); }
    });
  }

  function finish() {
    var status = document.getElementById("report-status");
    if (status) {
      status.textContent = state.errors.length ? "Some figures failed: " + state.errors.join("; ") : "";
      status.className = state.errors.length ? "status error" : "status";
    }
    state.ready = true;
  }

  try { buildTables(); } catch (e) { state.errors.push("tables: " + e); }
  loadPlotly().then(drawFigures).catch(function (e) { state.errors.push(String(e)); }).then(finish);
})();
