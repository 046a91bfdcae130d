// dxmon's page: draws the last hour of reports (the JSON contract of
// /api/windows) as charts and tables. Every string from the reports goes
// into the page as text (textContent, setAttribute), never as markup.
'use strict';
(function () {
  var SVGNS = 'http://www.w3.org/2000/svg';
  var cfg = JSON.parse(document.getElementById('dxmon-config').textContent);
  var dataEl = document.getElementById('dxmon-data');
  var main = document.getElementById('main');
  var statusEl = document.getElementById('status');
  var scopeEl = document.getElementById('scope');
  var footer = document.getElementById('footer');
  var windows = [];
  var alerts = [];
  var shownEnd = '';
  var shownAlerts = -1;

  // ---- building elements (text only) ----
  function el(tag, attrs) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, String(attrs[k]));
    });
  }
  function add(e, kid) {
    if (kid === undefined || kid === null || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(e, k); }); return; }
    e.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid)));
  }

  // ---- units ----
  var PREFIX = ['', 'k', 'M', 'G', 'T', 'P', 'E'];
  function si(n, unit) {
    if (!isFinite(n)) return String(n) + ' ' + unit;
    var neg = n < 0, i = 0;
    if (neg) n = -n;
    while (n >= 999.5 && i < PREFIX.length - 1) { n /= 1000; i++; }
    var s = i === 0 ? String(Math.round(n)) : n >= 99.95 ? n.toFixed(0) : n >= 9.995 ? n.toFixed(1) : n.toFixed(2);
    return (neg ? '-' : '') + s + ' ' + PREFIX[i] + unit;
  }
  function bps(n) { return si(n, 'bit/s'); }
  function pps(n) { return si(n, 'packets/s'); }
  function count(n) { return Number(n).toLocaleString('en-US'); }
  // Bytes in SI units (1 kB = 1000 bytes), the exact count in the tooltip.
  function bytesCell(n) {
    return el('data', { value: n, title: count(n) + ' bytes' }, si(n, 'B'));
  }
  function plural(n, w) { return count(n) + ' ' + w + (n === 1 ? '' : 's'); }
  function pct(f) { return (f * 100).toFixed(f < 0.1 ? 1 : 0) + ' %'; }
  function two(n) { return n < 10 ? '0' + n : String(n); }
  function utc(iso) {
    var d = new Date(iso);
    return d.getUTCFullYear() + '-' + two(d.getUTCMonth() + 1) + '-' + two(d.getUTCDate()) + ' ' +
      two(d.getUTCHours()) + ':' + two(d.getUTCMinutes()) + ':' + two(d.getUTCSeconds()) + ' UTC';
  }
  function clock(iso) {
    var d = new Date(iso);
    return two(d.getUTCHours()) + ':' + two(d.getUTCMinutes()) + ':' + two(d.getUTCSeconds()) + ' UTC';
  }
  function local(iso) {
    try {
      return new Date(iso).toLocaleTimeString('en-GB', { timeZoneName: 'short' });
    } catch (e) { return ''; }
  }
  var PROTO = { 1: 'ICMP', 6: 'TCP', 17: 'UDP', 47: 'GRE', 50: 'ESP', 58: 'ICMPv6', 132: 'SCTP' };
  function proto(p) { return PROTO[p] || 'IP protocol ' + p; }
  var DIRS = {
    to_aws: { title: 'To AWS', long: 'To AWS (on-premises to AWS)' },
    from_aws: { title: 'From AWS', long: 'From AWS (AWS to on-premises)' },
    total: { title: 'Both directions', long: 'Both directions together' }
  };

  // ---- names of addresses ----
  function hostCell(ip, info) {
    var td = el('td', { class: 'host' }, el('span', { class: 'ip' }, ip));
    if (!info) return td;
    var name = info.name || info.instance_id || '';
    var bits = [];
    if (info.name && info.instance_id) bits.push(info.instance_id);
    if (info.onprem) bits.push('on-premises, ' + info.onprem);
    if (!info.instance_id && info.interface_type) bits.push(info.interface_type.replace(/_/g, ' '));
    if (!info.instance_id && info.description) bits.push(info.description);
    if (info.asg) bits.push('group ' + info.asg);
    if (name) add(td, [el('br'), el('span', { class: 'name' }, name)]);
    if (bits.length) add(td, [el('br'), el('span', { class: 'detail' }, bits.join(' · '))]);
    return td;
  }

  // ---- tables ----
  function table(caption, heads, rows, empty) {
    var sec = el('div', { class: 'tablewrap' });
    if (!rows.length) {
      add(sec, [el('h4', null, caption), el('p', { class: 'empty' }, empty)]);
      return sec;
    }
    var thead = el('thead', null, el('tr', null, heads.map(function (h) {
      return el('th', { scope: 'col', class: h.num ? 'num' : null }, h.label);
    })));
    // Each cell names its column, for the phone layout's stacked rows.
    rows.forEach(function (tr) {
      for (var i = 0; i < tr.cells.length && i < heads.length; i++) tr.cells[i].setAttribute('data-label', heads[i].label);
    });
    var tbody = el('tbody', null, rows);
    add(sec, el('table', null, el('caption', null, caption), thead, tbody));
    return sec;
  }
  function num(v) { return el('td', { class: 'num' }, v); }
  var BYTES_HEAD = { label: 'Bytes (1 kB = 1000 B)', num: true };
  function flowRows(flows, secs, showDir) {
    return flows.map(function (f) {
      var ports = f.sport || f.dport ? f.sport + ' → ' + f.dport : 'no ports';
      return el('tr', null,
        hostCell(f.src, f.src_info), hostCell(f.dst, f.dst_info),
        el('td', null, proto(f.proto) + ' ' + ports),
        showDir ? el('td', null, f.dir ? DIRS[f.dir].title : '') : null,
        num(bytesCell(f.bytes)), num(count(f.packets)), num(bps(f.bytes * 8 / secs)),
        el('td', { class: 'gwlbe' }, f.gwlbe || '–'));
    });
  }
  function hostRows(hosts, secs) {
    return hosts.map(function (h) {
      return el('tr', null, hostCell(h.ip, h.info), num(bytesCell(h.bytes)), num(count(h.packets)), num(bps(h.bytes * 8 / secs)));
    });
  }
  function portRows(ports, secs) {
    return ports.map(function (p) {
      return el('tr', null, el('td', null, proto(p.proto) + ' ' + p.port), num(bytesCell(p.bytes)), num(count(p.packets)), num(bps(p.bytes * 8 / secs)));
    });
  }

  // ---- the chart ----
  function chart(key, series, label, link) {
    var W = Math.round(Math.max(300, Math.min(1400, main.clientWidth || 640))), H = W < 560 ? 170 : 220, L = 72, R = 8, T = 16, B = 24;
    var thr = [];
    if (link > 0) thr.push({ v: link, cls: 'cap', text: 'link ' + bps(link) });
    if (cfg.alert_bps > 0 && (!link || cfg.alert_bps <= link * 1.5)) thr.push({ v: cfg.alert_bps, cls: 'thr', text: 'alert ' + bps(cfg.alert_bps) });
    if (cfg.alert_utilization > 0 && link > 0) thr.push({ v: cfg.alert_utilization * link, cls: 'thr', text: 'alert ' + pct(cfg.alert_utilization) + ' of link' });
    // Lines far above the traffic would flatten it: those are named
    // above the chart instead of drawn.
    var peak = 0;
    series.forEach(function (p) { peak = Math.max(peak, p.v); });
    var off = peak > 0 ? thr.filter(function (t) { return t.v > peak * 3; }) : [];
    thr = thr.filter(function (t) { return off.indexOf(t) < 0; });
    var maxV = Math.max(1, peak);
    thr.forEach(function (t) { maxV = Math.max(maxV, t.v); });
    maxV *= 1.08;
    var t0 = series.length ? series[0].t0 : 0, t1 = series.length ? series[series.length - 1].t1 : 1;
    if (t1 <= t0) t1 = t0 + 1;
    function x(t) { return L + (W - L - R) * (t - t0) / (t1 - t0); }
    function y(v) { return T + (H - T - B) * (1 - v / maxV); }
    var id = 'chart-' + key;
    var lo = Infinity, hi = 0;
    series.forEach(function (p) { lo = Math.min(lo, p.v); hi = Math.max(hi, p.v); });
    var desc = series.length
      ? label + ' from ' + utc(new Date(t0).toISOString()) + ' to ' + clock(new Date(t1).toISOString()) + ' in ' + series.length +
        ' windows: lowest ' + bps(lo) + ', highest ' + bps(hi) + ', latest ' + bps(series[series.length - 1].v) + '.' +
        thr.concat(off).map(function (t) { return ' ' + t.text + '.'; }).join('')
      : 'No window yet.';
    var s = sv('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H, role: 'img', 'aria-labelledby': id + '-t ' + id + '-d', class: 'chart' },
      sv('title', { id: id + '-t' }, 'Rate, ' + label + ', over the last hour'),
      sv('desc', { id: id + '-d' }, desc));
    // axes and grid
    [0, 0.5, 1].forEach(function (f) {
      var v = maxV / 1.08 * f;
      add(s, [sv('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), class: 'grid' }),
        sv('text', { x: L - 4, y: y(v) + 4, class: 'ylab' }, bps(v))]);
    });
    if (series.length) {
      add(s, [sv('text', { x: L, y: H - 6, class: 'xlab' }, clock(new Date(t0).toISOString())),
        sv('text', { x: W - R, y: H - 6, class: 'xlab end' }, clock(new Date(t1).toISOString()))]);
      if (W >= 560) {
        [0.25, 0.5, 0.75].forEach(function (f) {
          var tt = t0 + (t1 - t0) * f;
          add(s, [sv('line', { x1: x(tt), x2: x(tt), y1: T, y2: H - B, class: 'grid' }),
            sv('text', { x: x(tt), y: H - 6, class: 'xlab mid' }, clock(new Date(tt).toISOString()).slice(0, t1 - t0 < 600000 ? 8 : 5))]);
        });
      }
      var d = '', a = 'M' + x(series[0].t0).toFixed(1) + ' ' + y(0).toFixed(1);
      series.forEach(function (p, i) {
        var seg = (i ? 'L' : 'M') + x(p.t0).toFixed(1) + ' ' + y(p.v).toFixed(1) + 'L' + x(p.t1).toFixed(1) + ' ' + y(p.v).toFixed(1);
        d += seg;
        a += 'L' + seg.slice(1);
      });
      a += 'L' + x(series[series.length - 1].t1).toFixed(1) + ' ' + y(0).toFixed(1) + 'Z';
      add(s, [sv('path', { d: a, class: 'area' }), sv('path', { d: d, class: 'rate' })]);
    }
    // Labels of lines close together alternate sides, so none covers another.
    var lastY = -100, left = false;
    thr.slice().sort(function (a, b) { return b.v - a.v; }).forEach(function (t) {
      var ty = y(t.v);
      left = Math.abs(ty - lastY) < 14 ? !left : false;
      lastY = ty;
      add(s, [sv('line', { x1: L, x2: W - R, y1: ty, y2: ty, class: t.cls }),
        sv('text', { x: left ? L + 4 : W - R - 2, y: ty - 3, class: 'tlab ' + t.cls + (left ? ' start' : '') }, t.text)]);
    });
    if (off.length) {
      add(s, sv('text', { x: L + 4, y: 11, class: 'tlab thr start' }, 'above the chart: ' + off.map(function (t) { return t.text; }).join(', ')));
    }
    return s;
  }

  // ---- one direction ----
  function part(r, key) {
    if (key === 'total') return r;
    return r.directions && r.directions[key];
  }
  function section(key, rs, latest) {
    var d = DIRS[key];
    var cur = part(latest, key) || { bps: 0, pps: 0, bytes: 0, packets: 0, top_flows: [], top_src: [], top_dst: [], top_dport: [] };
    var secs = Math.max(1e-3, (Date.parse(latest.window_end) - Date.parse(latest.window_start)) / 1000);
    var series = rs.map(function (r) {
      var p = part(r, key);
      return { t0: Date.parse(r.window_start), t1: Date.parse(r.window_end), v: p ? p.bps : 0 };
    });
    var link = latest.link_bps || cfg.link_bps;
    var util = link > 0 ? (typeof cur.utilization === 'number' ? cur.utilization : cur.bps / link) : null;
    var over = (cfg.alert_bps > 0 && cur.bps > cfg.alert_bps) || (cfg.alert_pps > 0 && cur.pps > cfg.alert_pps) ||
      (cfg.alert_utilization > 0 && util !== null && util > cfg.alert_utilization);
    var figures = el('dl', { class: 'figures' + (over ? ' over' : '') },
      el('div', null, el('dt', null, 'Rate'), el('dd', { class: 'rate-now', 'data-bps': cur.bps }, bps(cur.bps))),
      el('div', null, el('dt', null, 'Utilization'), el('dd', null, util === null ? 'unknown (no -link-bps)' : pct(util) + ' of ' + bps(link))),
      el('div', null, el('dt', null, 'Packets'), el('dd', null, pps(cur.pps))),
      el('div', null, el('dt', null, 'In this window'), el('dd', null, el('span', { class: 'bytes-now' }, bytesCell(cur.bytes)), ', ' + count(cur.packets) + ' packets')));
    if (over) add(figures, el('p', { class: 'overnote' }, 'Above an alert threshold in this window.'));
    var flows = cur.top_flows || [];
    var empty = 'No traffic in this window' + (key === 'total' ? '.' : ' ' + d.title.toLowerCase() + '.');
    var sec = el('section', { id: 'dir-' + key, 'aria-labelledby': 'h-' + key, 'data-dir': key },
      el('h2', { id: 'h-' + key }, d.long),
      key === 'total' ? el('p', { class: 'window' }, cfg.directions
        ? 'The reports carry no split by direction.'
        : 'Directions unknown: the probe was started without -onprem-cidrs (ONPREM_CIDRS).') : null,
      figures,
      chart(key, series, d.title, link),
      el('h3', null, 'Top talkers in the window ending ' + clock(latest.window_end)),
      table('Top flows', [{ label: 'Source' }, { label: 'Destination' }, { label: 'Protocol and ports' },
        key === 'total' && flows.some(function (f) { return f.dir; }) ? { label: 'Direction' } : null,
        BYTES_HEAD, { label: 'Packets', num: true }, { label: 'Rate', num: true }, { label: 'GWLB endpoint' }].filter(Boolean),
        flowRows(flows, secs, key === 'total' && flows.some(function (f) { return f.dir; })), empty),
      el('div', { class: 'cols' },
        table('Top sources', [{ label: 'Source' }, BYTES_HEAD, { label: 'Packets', num: true }, { label: 'Rate', num: true }], hostRows(cur.top_src || [], secs), empty),
        table('Top destinations', [{ label: 'Destination' }, BYTES_HEAD, { label: 'Packets', num: true }, { label: 'Rate', num: true }], hostRows(cur.top_dst || [], secs), empty),
        table('Top destination ports', [{ label: 'Port' }, BYTES_HEAD, { label: 'Packets', num: true }, { label: 'Rate', num: true }], portRows(cur.top_dport || [], secs), empty)));
    return sec;
  }

  function alertSection() {
    var sec = el('section', { id: 'alerts', 'aria-labelledby': 'h-alerts' }, el('h2', { id: 'h-alerts' }, 'Alerts in the last hour'));
    if (!alerts.length) {
      add(sec, el('p', { class: 'empty' }, 'No alert in the last hour.'));
      return sec;
    }
    var rows = alerts.slice().reverse().map(function (a) {
      return el('tr', { class: a.kind },
        el('td', null, utc(a.time)), el('td', null, a.kind === 'fired' ? 'Fired' : 'Resolved'),
        el('td', null, a.dir ? DIRS[a.dir].title : 'Both directions'),
        el('td', null, a.subject),
        el('td', null, a.sent ? 'sent' : 'not sent (no SNS topic or Slack webhook configured)'));
    });
    add(sec, table('Alerts, newest first', [{ label: 'Time' }, { label: 'Event' }, { label: 'Direction' }, { label: 'Message' }, { label: 'Delivery' }], rows, ''));
    return sec;
  }

  // ---- the whole page ----
  function pick() {
    var fleet = windows.filter(function (r) { return r.scope === 'fleet'; });
    if (fleet.length) return fleet;
    return windows.filter(function (r) { return r.scope !== 'fleet'; });
  }
  function render() {
    var rs = pick();
    var latest = rs[rs.length - 1];
    var end = latest ? latest.window_end + '|' + latest.scope : '';
    if (end === shownEnd && alerts.length === shownAlerts) return;
    shownEnd = end;
    shownAlerts = alerts.length;
    var focus = document.activeElement && document.activeElement.id;
    while (main.firstChild) main.removeChild(main.firstChild);
    if (!latest) {
      scopeEl.textContent = cfg.static ? 'The capture held no window.' : 'Waiting for the first window (every ' + cfg.window_seconds + ' s).';
      add(main, [el('p', { class: 'empty' }, 'No window yet: no report has been made.'), alertSection()]);
      return;
    }
    if (latest.scope === 'fleet') {
      scopeEl.textContent = 'Fleet view: the whole link, merged from ' + latest.probes + ' probe' + (latest.probes === 1 ? '' : 's') + '.';
    } else if (cfg.static) {
      scopeEl.textContent = 'Report of a capture: the traffic it holds, one probe\'s share of the link.';
    } else if (cfg.fleet) {
      scopeEl.textContent = "This probe's share only: the fleet's merge has not arrived yet.";
    } else {
      scopeEl.textContent = "This probe's share only: each probe sees the flows its load balancer sends it. Run the probes with -fleet to see the whole link.";
    }
    if (cfg.probe) scopeEl.textContent += ' Probe: ' + cfg.probe + '.';
    if (cfg.source) scopeEl.textContent += ' Source: ' + cfg.source + '.';
    var summary = el('p', { class: 'window' }, 'Window ' + utc(latest.window_start) + ' to ' + clock(latest.window_end) +
      ' (local ' + local(latest.window_end) + ')' + (latest.partial ? ', cut short' : '') +
      (latest.sample_rate < 1 ? ', counted from a ' + pct(latest.sample_rate) + ' sample, scaled' : '') + '.');
    add(main, summary);
    var keys = latest.directions ? ['to_aws', 'from_aws'] : ['total'];
    keys.forEach(function (k) { add(main, section(k, rs, latest)); });
    add(main, alertSection());
    document.body.setAttribute('data-window-end', latest.window_end);
    document.body.setAttribute('data-windows', String(rs.length));
    // footer: what was not counted
    while (footer.firstChild) footer.removeChild(footer.firstChild);
    var sk = latest.skipped || {};
    var names = Object.keys(sk).filter(function (k) { return sk[k] > 0; });
    add(footer, el('p', null, 'Totals of the window: ', bytesCell(latest.bytes), ' in ' + count(latest.packets) + ' packets, ' + bps(latest.bps) + '.'));
    add(footer, el('p', null, names.length ? 'Frames not counted in this window: ' + names.map(function (k) { return k.replace(/_/g, ' ') + ' ' + count(sk[k]); }).join(', ') + '.' : 'Every frame of this window was counted.'));
    add(footer, el('p', null, 'Bytes are IP lengths in SI units (1 kB = 1000 bytes); rates in bits per second (1 Mbit/s = 1,000,000 bit/s). Times are UTC.'));
    if (!cfg.static) add(footer, el('p', null, 'Machine-readable: ', el('a', { href: 'api/windows' }, 'api/windows'), ' (the last hour of reports, JSON).'));
    if (focus) { var f = document.getElementById(focus); if (f) f.focus(); }
  }

  // ---- live updates ----
  function getJSON(url) {
    return fetch(url, { cache: 'no-store', credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
      return r.json();
    });
  }
  var HOUR = 3600 * 1000;
  function poll() {
    var last = windows.length ? windows[windows.length - 1].window_end : '';
    var url = 'api/windows' + (last ? '?since=' + encodeURIComponent(last) : '');
    Promise.all([getJSON(url), getJSON('api/alerts')]).then(function (got) {
      windows = windows.concat(got[0]);
      if (windows.length) {
        var cut = Date.parse(windows[windows.length - 1].window_end) - HOUR;
        windows = windows.filter(function (r) { return Date.parse(r.window_end) > cut; });
      }
      alerts = got[1];
      render();
      statusEl.textContent = 'Updated at ' + utc(new Date().toISOString()) + '; next update with the next window (every ' + cfg.window_seconds + ' s).';
    }).catch(function (e) {
      statusEl.textContent = 'The probe did not answer at ' + utc(new Date().toISOString()) + ' (' + e.message + '); showing the last figures received, retrying.';
    }).then(function () {
      setTimeout(poll, Math.max(1000, cfg.window_seconds * 1000));
    });
  }

  var resized = 0;
  window.addEventListener('resize', function () {
    clearTimeout(resized);
    resized = setTimeout(function () { shownEnd = ''; render(); }, 150);
  });

  if (dataEl) {
    var data = JSON.parse(dataEl.textContent);
    windows = data.windows || [];
    alerts = data.alerts || [];
    render();
    statusEl.textContent = windows.length ? 'Static report of ' + plural(windows.length, 'window') + ', ' + utc(windows[0].window_start) + ' to ' + clock(windows[windows.length - 1].window_end) + '.' : 'Static report: no window.';
  } else {
    poll();
  }
})();
