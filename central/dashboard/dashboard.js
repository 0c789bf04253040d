/*
 * bosun dashboard: polls central's JSON API and redraws. No libraries and
 * no other hosts: everything comes from the bosun-central serving this.
 *
 *   /api/nodes         -> #nodes (problem nodes first), #summary
 *   /api/resources     -> #resources, and "ACTIVE for" in #nodes
 *   /api/messages      -> #messages (newest first)
 *   /api/connectivity  -> #matrix (at most MATRIX_NODES nodes, problems first)
 *
 * Every string from the API is escaped before it enters the page.
 */
'use strict';

(function () {
  const POLL_MS = 1500;
  const FETCH_TIMEOUT_MS = 5000;
  const NODE_ROWS = 1000;     // rows drawn; the filter finds the rest
  const MESSAGES = 25;
  const MATRIX_NODES = 30;
  // Problems first: the order nodes are listed in, and the summary chips.
  const STATUS_ORDER = ['DEAD', 'MISSING', 'WARN', 'SLOW', 'REMOVED', 'UNKNOWN', 'ALIVE'];
  const LIVE = { ALIVE: true, SLOW: true, WARN: true };

  const $ = (id) => document.getElementById(id);
  const last = { nodes: null, resources: null, messages: null, conn: null };
  let filter = '';

  function esc(s) {
    return String(s === undefined || s === null ? '' : s).replace(/[&<>"']/g, (c) =>
      ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  function age(ms) {
    if (ms < 1000) return ms + ' ms';
    const s = ms / 1000;
    if (s < 60) return s.toFixed(1) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.floor(s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d';
  }

  function micros(us) {
    return us < 1000 ? us + ' µs' : (us / 1000).toFixed(us < 10000 ? 2 : 1) + ' ms';
  }

  function clock(ms) {
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour12: false });
  }

  function matches(...texts) {
    if (!filter) return true;
    return texts.some((t) => String(t || '').toLowerCase().includes(filter));
  }

  function rank(status) {
    const i = STATUS_ORDER.indexOf(status);
    return i < 0 ? STATUS_ORDER.length : i;
  }

  async function get(url) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), FETCH_TIMEOUT_MS);
    try {
      const r = await fetch(url, { cache: 'no-store', signal: ctl.signal });
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      return await r.json();
    } finally {
      clearTimeout(timer);
    }
  }

  /* node -> resources it is ACTIVE for (live ACTIVE members, as central sees them) */
  function activeByNode() {
    const m = {};
    for (const r of (last.resources ? last.resources.resources : [])) {
      for (const mb of r.members) {
        if (mb.alive && mb.state === 'ACTIVE') (m[mb.node] = m[mb.node] || []).push(r.resource);
      }
    }
    return m;
  }

  function drawSummary() {
    const parts = [];
    if (last.nodes) {
      const c = {};
      for (const n of last.nodes.nodes) c[n.status] = (c[n.status] || 0) + 1;
      parts.push('<span class="chip" data-count-status="TOTAL">' + last.nodes.nodes.length + ' nodes</span>');
      for (const s of STATUS_ORDER) {
        if (c[s]) parts.push('<span class="chip ' + s + '" data-count-status="' + s + '">' + c[s] + ' ' + s + '</span>');
      }
    }
    if (last.resources) {
      const rs = last.resources.resources;
      const alarms = rs.filter((r) => r.alarm !== 'OK').length;
      parts.push('<span class="chip' + (alarms ? ' DOUBLE' : '') + '" id="resource-count">' + rs.length +
                 ' resources' + (alarms ? ', ' + alarms + ' in alarm' : '') + '</span>');
    }
    if (last.conn && last.conn.totalCells) {
      const f = last.conn.failingCells;
      parts.push('<span class="chip' + (f ? ' DEAD' : '') + '" id="link-count">' + f + ' of ' +
                 last.conn.totalCells + ' links failing</span>');
    }
    $('summary').innerHTML = parts.join('');
  }

  function drawNodes() {
    if (!last.nodes) return;
    const owns = activeByNode();
    const list = last.nodes.nodes
      .filter((n) => matches(n.node, n.host && n.host.hostname, (owns[n.node] || []).join(' ')))
      .sort((a, b) => rank(a.status) - rank(b.status) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
    const rows = [];
    for (const n of list.slice(0, NODE_ROWS)) {
      const problem = n.status !== 'ALIVE';
      const title = n.host && n.host.hostname ? ' title="' + esc(n.host.hostname + (n.host.os ? ', ' +
        n.host.os : '')) + '"' : '';
      const load = n.heard && n.host ? n.host.load1.toFixed(2) + (n.host.cores ? ' <span class="muted">/' +
        n.host.cores + '</span>' : '') : '-';
      let offset = '-';
      if (n.clockOffsetUs !== undefined) {
        const ms = (n.clockOffsetUs / 1000).toFixed(1);
        offset = '<span' + (n.clockOverBound ? ' class="warnval"' : '') + ' title="round trip ' +
          micros(n.rttUs) + '">' + (ms === '-0.0' ? '0.0' : ms[0] === '-' ? ms : '+' + ms) + ' ms</span>';
      }
      rows.push('<tr data-node="' + esc(n.node) + '" data-status="' + esc(n.status) + '"' +
        (problem ? ' class="problem"' : '') + '>' +
        '<td class="name"' + title + '>' + esc(n.node) + '</td>' +
        '<td><span class="badge ' + esc(n.status) + '">' + esc(n.status) + '</span></td>' +
        '<td class="num age">' + (n.heard ? age(n.heartbeatAgeMs) + ' ago' : 'never') + '</td>' +
        '<td class="num">' + load + '</td>' +
        '<td class="num">' + offset + '</td>' +
        '<td class="owns">' + esc((owns[n.node] || []).join(', ')) + '</td>' +
        '<td class="muted">' + esc(n.version) + '</td></tr>');
    }
    $('nodes').innerHTML = rows.join('');
    const total = last.nodes.nodes.length;
    $('nodes-note').textContent = list.length > NODE_ROWS ? 'first ' + NODE_ROWS + ' of ' + list.length +
      ' shown; use the filter' : (filter ? list.length + ' of ' + total + ' match' : '');
  }

  function drawResources() {
    if (!last.resources) return;
    const now = last.resources.timeMs;
    const list = last.resources.resources
      .filter((r) => matches(r.resource, r.active, r.members.map((m) => m.node).join(' ')))
      .sort((a, b) => (a.alarm === 'OK') - (b.alarm === 'OK') || (a.resource < b.resource ? -1 : 1));
    const rows = list.map((r) => {
      const members = r.members.map((m) => {
        const st = m.state === 'NONE' ? 'NONE_STATE' : m.state;
        return '<span class="state ' + esc(st) + (m.alive ? '' : ' gone') + '" data-member="' + esc(m.node) +
          '" data-state="' + esc(m.state) + '" title="priority ' + m.priority + (m.alive ? '' : ', not alive') +
          '">' + esc(m.node) + ' ' + esc(m.state) + '</span>';
      }).join('');
      const since = r.active && r.activeSinceMs ? age(Math.max(0, now - r.activeSinceMs)) : '';
      return '<tr data-resource="' + esc(r.resource) + '" data-alarm="' + esc(r.alarm) + '"' +
        (r.alarm !== 'OK' ? ' class="problem"' : '') + '>' +
        '<td>' + esc(r.resource) + '</td>' +
        '<td class="active' + (r.active ? '' : ' none') + '" data-active="' + esc(r.active) + '">' +
        (r.active ? esc(r.active) + (r.nActive > 1 ? ' +' + (r.nActive - 1) : '') : 'none') + '</td>' +
        '<td class="num">' + since + '</td>' +
        '<td><span class="badge ' + esc(r.alarm) + '" title="' + esc(r.detail) + '">' + esc(r.alarm) +
        '</span></td><td>' + members + '</td></tr>';
    });
    $('resources').innerHTML = rows.join('');
    $('resources-note').textContent = filter ? list.length + ' of ' + last.resources.resources.length + ' match' : '';
  }

  function output(m) {
    const a = m.ack || {};
    const text = m.error || a.error || (typeof a.stdout === 'string' ? a.stdout : '') ||
      (typeof a.stderr === 'string' ? a.stderr : '');
    return text.trim().split('\n')[0];
  }

  function drawMessages() {
    if (!last.messages) return;
    const list = last.messages.messages.filter((m) => m.message &&
      matches(m.message.node, m.message.method, m.message.id));
    const rows = list.map((m) => {
      const msg = m.message;
      const done = m.finished_ms > 0;
      const status = done ? m.status : 'PENDING';
      const a = m.ack || {};
      const args = (msg.data || []).join(' ');
      return '<tr data-id="' + esc(msg.id) + '" data-node="' + esc(msg.node) + '" data-status="' + esc(status) +
        '"><td title="' + esc(msg.id) + '">' + clock(m.accepted_ms) + '</td>' +
        '<td>' + esc(msg.node) + '</td>' +
        '<td title="' + esc(args) + '">' + esc(msg.method) + (args ? ' <span class="muted">' +
          esc(args.length > 40 ? args.slice(0, 40) + '…' : args) + '</span>' : '') + '</td>' +
        '<td><span class="badge ' + esc(status) + '">' + esc(status) + '</span></td>' +
        '<td class="num">' + (done && m.ack ? a.exit_code : '') + '</td>' +
        '<td class="num">' + m.attempts + '</td>' +
        '<td class="num">' + (done ? age(Math.max(0, m.finished_ms - m.accepted_ms)) : '') + '</td>' +
        '<td class="out" title="' + esc(output(m)) + '">' + esc(output(m)) + '</td></tr>';
    });
    $('messages').innerHTML = rows.length ? rows.join('') :
      '<tr><td colspan="8" class="muted">no commands yet</td></tr>';
  }

  function cellClass(c) {
    if (!c) return 'none';
    if (!LIVE[c.sourceStatus]) return 'stale';
    const tested = c.tcp.tested ? 2 : 1; /* no address known: only the NATS ping counts */
    const up = (c.tcp.tested && c.tcp.up ? 1 : 0) + (c.nats.up ? 1 : 0);
    return up === tested ? 'up' : up > 0 ? 'half' : 'down';
  }

  function cellTitle(c) {
    const part = (name, p) => name + ' ' + (p.tested === false ? 'not measured (no address)' :
      p.up ? 'up ' + micros(p.us || 0) : 'DOWN');
    return c.source + ' → ' + c.target + ': ' + part('tcp', c.tcp) + ', ' + part('nats', c.nats) + ', ' +
      age(c.ageMs) + ' ago' + (c.error ? ' — ' + c.error : '') + (LIVE[c.sourceStatus] ? '' : ' (source ' +
      c.sourceStatus + ')');
  }

  function drawMatrix() {
    const d = last.conn;
    if (!d) return;
    const cells = {};
    for (const c of d.cells) cells[c.source + '\u0000' + c.target] = c;
    const names = d.nodes;
    if (!names.length) {
      $('matrix').innerHTML = '<tr><td class="muted">no probe results in the heartbeats' +
        (filter ? ' for this filter' : '') + '</td></tr>';
      $('matrix-note').textContent = '';
      drawFailing(d);
      return;
    }
    let h = '<thead><tr><th class="corner">source ↓ target →</th>';
    for (const t of names) h += '<th class="target" data-target="' + esc(t) + '">' + esc(t) + '</th>';
    h += '</tr></thead><tbody>';
    for (const s of names) {
      h += '<tr data-source="' + esc(s) + '"><th class="source">' + esc(s) + '</th>';
      for (const t of names) {
        const c = cells[s + '\u0000' + t];
        const cls = s === t && !c ? 'self' : cellClass(c);
        h += '<td data-source="' + esc(s) + '" data-target="' + esc(t) + '" data-state="' + cls + '"' +
          (c ? ' data-tcp="' + (c.tcp.up ? 'up' : 'down') + '" data-nats="' + (c.nats.up ? 'up' : 'down') + '"' : '') +
          '><span class="cell ' + cls + '" title="' + esc(c ? cellTitle(c) : s === t ? s : s + ' → ' + t +
          ': not probed') + '"></span></td>';
      }
      h += '</tr>';
    }
    $('matrix').innerHTML = h + '</tbody>';
    $('matrix-note').textContent = (d.truncated ? names.length + ' of ' + d.totalNodes +
      ' nodes shown, those with failing links first; ' : '') + d.failingCells + ' of ' + d.totalCells +
      ' links failing';
    drawFailing(d);
  }

  /* The failing links central lists (the first 100), whether or not the matrix shows their nodes. */
  function drawFailing(d) {
    const rows = d.failing.map((c) => '<tr data-source="' + esc(c.source) + '" data-target="' + esc(c.target) +
      '"><td><span class="cell ' + cellClass(c) + '"></span></td><td>' + esc(c.source) + ' → ' + esc(c.target) +
      '</td><td>tcp ' + (!c.tcp.tested ? 'not measured' : c.tcp.up ? 'up' : '<b>down</b>') + ', nats ' + (c.nats.up ? 'up' : '<b>down</b>') +
      '</td><td class="muted">' + age(c.ageMs) + ' ago</td><td class="out">' + esc(c.error) + '</td></tr>');
    $('failing').innerHTML = rows.length ? rows.join('') : '<tr><td class="muted">none</td></tr>';
    $('failing-note').textContent = d.failing.length >= 100 ? 'the first 100' : '';
  }

  function drawAll() {
    drawSummary();
    drawNodes();
    drawResources();
    drawMessages();
    drawMatrix();
  }

  async function tick() {
    try {
      const f = filter ? '&filter=' + encodeURIComponent(filter) : '';
      const [nodes, resources, messages, conn] = await Promise.all([
        get('/api/nodes'), get('/api/resources'), get('/api/messages?limit=' + MESSAGES),
        get('/api/connectivity?limit=' + MATRIX_NODES + f)]);
      Object.assign(last, { nodes, resources, messages, conn });
      drawAll();
      $('updated').textContent = 'updated ' + clock(nodes.timeMs);
      $('updated').dataset.timeMs = nodes.timeMs;
      $('error').hidden = true;
    } catch (e) {
      $('error').textContent = 'cannot reach central: ' + (e && e.message ? e.message : e);
      $('error').hidden = false;
    }
    setTimeout(tick, POLL_MS);
  }

  $('filter').addEventListener('input', () => {
    filter = $('filter').value.trim().toLowerCase();
    drawAll(); // at once from what we have; the matrix follows at the next poll
  });
  tick();
})();
