// The network map at hospital scale, drawn with Cytoscape.js (vendored: cytoscape-3.35.0.min.js, MIT).
// Groups (zone, else VLAN, else subnet) come first as clusters from /map/data/groups; a cluster opens on
// click and its devices are fetched page by page from /map/data/devices; conversations are fetched only
// when asked for (/map/data/edges). Colours: worst open finding; a purple ring: risk-accepted findings.
// The filter form reloads the page (the groups table under the map follows it too).
// #cy[data-state] is "loading" while a request runs and "ready" after, so tests and people can wait on it.
(function () {
  "use strict";
  var box = document.getElementById("cy");
  if (!box || typeof window.cytoscape !== "function") { return; }
  var T = JSON.parse(document.getElementById("map-i18n").textContent);
  var form = document.getElementById("map-filter");
  var panel = document.getElementById("map-panel");
  var SEV = { critical: "#7a1212", high: "#d0021b", medium: "#e67e00", low: "#d4b000", info: "#5b8bd0" };
  var NONE = "#3a8f5c", ACCEPTED = "#6a3fb5", CELL = 56, PAGE = 1000, AUTO_OPEN = 300;
  var groups = [], opened = {}, pending = 0;

  var cy = window.cytoscape({
    container: box, minZoom: 0.05, maxZoom: 3, boxSelectionEnabled: false,
    style: [
      { selector: "node", style: { "label": "data(label)", "font-size": 9, "text-valign": "bottom",
        "text-margin-y": 3, "width": 18, "height": 18, "min-zoomed-font-size": 8, "background-color": "data(color)",
        "shape": "round-rectangle", "border-width": 0, "text-max-width": 80, "text-wrap": "ellipsis" } },
      { selector: "node.dm", style: { "shape": "ellipse" } },
      { selector: "node.accepted", style: { "border-width": 4, "border-color": ACCEPTED } },
      { selector: "node.peer", style: { "shape": "hexagon", "background-color": "#8a949e" } },
      { selector: "node.cluster", style: { "label": "data(label)", "text-wrap": "wrap", "text-max-width": 200,
        "font-size": 22, "min-zoomed-font-size": 0, "text-valign": "center", "color": "#ffffff", "text-outline-width": 2,
        "text-outline-color": "data(color)", "width": "data(size)", "height": "data(size)", "shape": "ellipse" } },
      { selector: "node.cluster:parent", style: { "background-opacity": 0.08, "shape": "round-rectangle",
        "text-valign": "top", "color": "#1b1f24", "text-outline-width": 0, "padding": 14,
        "border-width": 2, "border-color": "data(color)" } },
      { selector: "node:selected", style: { "overlay-color": "#0b4f9c", "overlay-opacity": 0.25 } },
      { selector: "edge", style: { "width": "data(width)", "line-color": "#9aa5b1", "curve-style": "bezier",
        "opacity": 0.8 } },
      { selector: "edge.bad", style: { "line-color": "#d0021b", "opacity": 1 } },
      { selector: "edge.accepted", style: { "line-color": ACCEPTED, "line-style": "dashed" } }
    ]
  });
  window.medtapMap = { cy: cy };

  function busy(delta) {
    pending += delta;
    box.setAttribute("data-state", pending > 0 ? "loading" : "ready");
  }
  function params(extra) {
    var p = new URLSearchParams(new FormData(form));
    Array.from(p.keys()).forEach(function (k) { if (!p.get(k)) { p.delete(k); } });
    Object.keys(extra || {}).forEach(function (k) { p.set(k, extra[k]); });
    return p;
  }
  function getJSON(url) {
    busy(1);
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(url + ": " + r.status); } return r.json(); })
      .finally(function () { busy(-1); });
  }
  function colour(item) { return item.worst ? SEV[item.worst] : (item.accepted ? ACCEPTED : NONE); }
  function text(tag, value, cls) {
    var el = document.createElement(tag); el.textContent = value; if (cls) { el.className = cls; } return el;
  }
  function fill(parts) {
    panel.replaceChildren.apply(panel, parts.filter(Boolean));
  }
  function link(href, label) { var a = text("a", label); a.href = href; return a; }
  function button(label, action) {
    var b = text("button", label, "btn-secondary"); b.type = "button"; b.addEventListener("click", action); return b;
  }
  function facts(rows) {
    var dl = document.createElement("dl"); dl.className = "facts";
    rows.forEach(function (r) { dl.appendChild(text("dt", r[0])); dl.appendChild(text("dd", String(r[1]))); });
    return dl;
  }
  function sevName(s) { return s ? (T.severity[s] || s) : T.none; }

  // ---------------------------------------------------------------- layout: clusters packed in rows
  function pack() {
    var x = 0, y = 0, rowH = 0, maxW = Math.max(900, box.clientWidth * 1.6);
    groups.forEach(function (g) {
      var node = cy.getElementById("g:" + g.key), kids = node.children();
      var n = kids.length, cols = Math.max(1, Math.ceil(Math.sqrt(n * 1.6)));
      var w = n ? cols * CELL + 40 : g.size + 60, h = n ? Math.ceil(n / cols) * CELL + 60 : g.size + 60;
      if (x > 0 && x + w > maxW) { x = 0; y += rowH + 30; rowH = 0; }
      if (n) {
        kids.forEach(function (k, i) {
          k.position({ x: x + 20 + (i % cols) * CELL + CELL / 2, y: y + 40 + Math.floor(i / cols) * CELL });
        });
      } else {
        node.position({ x: x + w / 2, y: y + h / 2 });
      }
      x += w + 30; rowH = Math.max(rowH, h);
    });
    var peers = cy.nodes(".peer"), px = 0;
    peers.forEach(function (p) { p.position({ x: px, y: y + rowH + 80 }); px += CELL * 2; });
  }

  // ---------------------------------------------------------------- groups and devices
  function loadGroups() {
    opened = {};
    fill([text("p", T.loading)]);
    return getJSON(box.dataset.groups + "?" + params()).then(function (data) {
      groups = data.groups;
      cy.elements().remove();
      cy.add(groups.map(function (g) {
        g.size = Math.round(34 + 9 * Math.sqrt(g.devices));
        return { group: "nodes", classes: "cluster", data: { id: "g:" + g.key, key: g.key, kind: "group",
          label: g.title + "\n" + g.devices + " " + T.devices, color: colour(g), size: g.size } };
      }));
      cy.nodes(".cluster").forEach(function (n) { if (groupOf(n.data("key")).accepted) { n.addClass("accepted"); } });
      pack(); cy.fit(undefined, 30);
      var count = document.getElementById("map-count");
      if (count) { count.textContent = T.matched.replace("{matched}", data.matched).replace("{total}", data.devices); }
      fill([text("p", T.matched.replace("{matched}", data.matched).replace("{total}", data.devices))]);
      if (data.matched <= AUTO_OPEN && params().toString()) {  // a narrow search: open what it found
        return Promise.all(groups.map(function (g) { return openGroup(g.key, false); })).then(function () {
          pack(); cy.fit(undefined, 30);
        });
      }
    });
  }
  function groupOf(key) { return groups.filter(function (g) { return g.key === key; })[0]; }
  function openGroup(key, focus) {
    if (opened[key]) { return Promise.resolve(); }
    opened[key] = true;
    var parent = cy.getElementById("g:" + key);
    function page(offset) {
      return getJSON(box.dataset.devices + "?" + params({ group: key, offset: offset, limit: PAGE }))
        .then(function (data) {
          cy.add(data.items.map(function (d) {
            var cls = [d.dm ? "dm" : "", d.accepted ? "accepted" : ""].join(" ");
            return { group: "nodes", classes: cls, data: { id: d.mac, parent: "g:" + key, kind: "device",
              label: d.label, color: colour(d), item: d } };
          }).filter(function (n) { return cy.getElementById(n.data.id).empty(); }));
          if (offset + data.items.length < data.total) { return page(offset + data.items.length); }
        });
    }
    return page(0).then(function () {
      parent.data("label", groupOf(key).title);
      if (focus !== false) { pack(); cy.animate({ fit: { eles: parent, padding: 40 } }, { duration: 250 }); }
    });
  }
  function closeGroup(key) {
    var parent = cy.getElementById("g:" + key), g = groupOf(key);
    parent.children().remove();
    parent.data("label", g.title + "\n" + g.devices + " " + T.devices);
    delete opened[key];
    pack();
  }

  // ---------------------------------------------------------------- conversations on demand
  function endNode(id, group) {
    var node = cy.getElementById(id);
    if (node.nonempty()) { return node; }
    node = cy.getElementById("g:" + group);
    if (node.nonempty()) { return node; }
    return cy.add({ group: "nodes", classes: "peer", data: { id: id, label: id, kind: "peer", color: "#8a949e" } });
  }
  function showEdges(query, from) {
    cy.edges().remove();
    cy.nodes(".peer").remove();
    return getJSON(box.dataset.edges + "?" + new URLSearchParams(query)).then(function (data) {
      data.edges.forEach(function (e, i) {
        var a = from || endNode(e.a, e.a_group), b = endNode(e.b, e.b_group);
        if (a.id() === b.id()) { return; }
        var cls = e.finding ? (e.bad ? "bad" : "accepted") : "";
        cy.add({ group: "edges", classes: cls, data: { id: "e" + i, source: a.id(), target: b.id(), item: e,
          width: Math.min(8, 1 + Math.log(e.conversations) * 1.5) } });
      });
      pack();
      return data;
    });
  }

  // ---------------------------------------------------------------- the side panel
  function showGroup(node) {
    var g = groupOf(node.data("key"));
    fill([text("h2", g.title),
      facts([[T.devices, g.devices], [T.dm, g.dm], [T.worst, sevName(g.worst)], [T.open_findings, g.open_findings],
             [T.accepted, g.accepted]]),
      opened[g.key] ? button(T.close, function () { closeGroup(g.key); showGroup(node); })
                    : button(T.open, function () { openGroup(g.key).then(function () { showGroup(node); }); }),
      button(T.conversations, function () { showEdges({ group: g.key }, node).then(edgeSummary); })]);
  }
  function showDevice(node) {
    var d = node.data("item");
    fill([text("h2", d.label),
      facts([["IP", d.ips.join(", ") || "-"], [T.vendor, d.vendor || "-"], [T.role, d.role],
             [T.worst, sevName(d.worst)], [T.open_findings, d.open_findings], [T.accepted, d.accepted]]),
      link("/devices/" + encodeURIComponent(d.mac), T.device_page), text("span", " "),
      button(T.conversations, function () { showEdges({ mac: d.mac }, node).then(edgeSummary); })]);
  }
  function edgeSummary(data) {
    var list = document.createElement("ul"); list.id = "map-edges";
    data.edges.forEach(function (e) {
      var li = text("li", name(e.a) + " ↔ " + (cy.getElementById(e.b).nonempty() ? name(e.b) : e.b_label) + ": " + e.services.join(", ") + " (" + e.conversations + ")");
      if (e.finding) { li.appendChild(text("span", " ")); li.appendChild(link("/findings/" + encodeURIComponent(e.finding), e.finding_title || T.finding)); }
      list.appendChild(li);
    });
    panel.appendChild(data.edges.length ? list : text("p", T.no_edges));
    if (data.truncated) { panel.appendChild(text("p", T.truncated, "warning")); }
  }
  function name(id) {
    var node = cy.getElementById(id);
    if (node.empty()) { node = cy.getElementById("g:" + id); }
    return node.nonempty() ? String(node.data("label")).split("\n")[0] : id;
  }
  function showEdge(edge) {
    var e = edge.data("item");
    fill([text("h2", name(e.a) + " ↔ " + name(e.b)), facts([["", e.services.join(", ")]]),
      e.finding ? link("/findings/" + encodeURIComponent(e.finding), T.finding + ": " + e.finding_title) : null]);
  }

  cy.on("tap", "node", function (evt) {
    var node = evt.target, kind = node.data("kind");
    if (kind === "group") {
      if (!opened[node.data("key")]) { openGroup(node.data("key")).then(function () { showGroup(node); }); }
      else { showGroup(node); }
    } else if (kind === "device") { showDevice(node); }
  });
  cy.on("tap", "edge", function (evt) { showEdge(evt.target); });
  loadGroups();
})();
