// The site's static files, served by the node itself (no CDN): its style sheet, its one small
// script (live updates: it follows the page's channel at /site and swaps in the fragments the node
// re-renders after durable batches) and its icon.

export const SITE_CSS = `:root{--fg:#1f2328;--muted:#636c76;--line:#d8dee4;--bg:#fff;--soft:#f6f8fa;--bid:#1a7f37;--ask:#cf222e;--accent:#0550ae;--warn:#9a6700}
*{box-sizing:border-box}
body{margin:0;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.4rem 1.2rem;padding:.7rem 1.5rem;border-bottom:1px solid var(--line);background:var(--soft)}
header nav{display:flex;flex-wrap:wrap;gap:.2rem 1rem}
header nav a{color:var(--fg);text-decoration:none}
header nav a[aria-current=page]{font-weight:600;border-bottom:2px solid var(--accent)}
.brand{font-weight:700;font-size:1.1rem;color:var(--fg);text-decoration:none}
.tag{color:var(--muted);font-size:.85rem}
.live{margin-left:auto;font-size:.8rem;padding:.1rem .5rem;border-radius:1rem;border:1px solid var(--line)}
.live.on{color:var(--bid);border-color:var(--bid)}
.live.on::before{content:"\\25CF  "}
.live.off{color:var(--muted)}
main{max-width:1240px;margin:0 auto;padding:1rem 1.5rem 2rem}
footer{max-width:1240px;margin:0 auto;padding:1rem 1.5rem 2rem;border-top:1px solid var(--line);font-size:.85rem;color:var(--muted)}
h1{font-size:1.6rem;margin:.6rem 0}
h2{font-size:1.25rem;margin:1.6rem 0 .5rem;padding-top:.4rem;border-top:1px solid var(--line)}
h3{font-size:1rem;margin:1rem 0 .4rem}
h2 small,h3 small{font-weight:400;color:var(--muted);font-size:.85rem}
.lead{max-width:60rem;color:#3d444d}
a{color:var(--accent)}
table{border-collapse:collapse;width:100%;margin:.3rem 0 .8rem;font-size:.9rem}
th,td{padding:.25rem .5rem;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
thead th{background:var(--soft);font-weight:600;white-space:nowrap}
table.kv th{font-weight:400;color:var(--muted);width:55%}
.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
data{font-variant-numeric:tabular-nums}
.big{font-size:1.15rem;font-weight:600}
.bid{color:var(--bid)}
.ask{color:var(--ask)}
.muted,.none{color:var(--muted)}
.warn{color:var(--warn);font-weight:600}
.ok{color:var(--bid)}
.status-used{color:var(--bid)}
.status-stale,.status-outlier{color:var(--warn)}
.trades,.book{font-size:.85rem}
.trades th,.trades td,.book th,.book td{padding:.22rem .35rem}
.trades td:first-child{white-space:nowrap}
.afmm{display:inline-block;white-space:nowrap;font-size:.75rem;font-weight:600;padding:0 .4rem;border-radius:.3rem;background:#fff8c5;border:1px solid #d4a72c;color:#6c4a00}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:0 2rem}
.chart{width:100%;max-width:720px;height:auto;display:block;margin:.3rem 0 .8rem;background:var(--soft);border:1px solid var(--line);border-radius:.3rem}
.chart .bids{fill:rgba(26,127,55,.25);stroke:var(--bid);stroke-width:1.5}
.chart .asks{fill:rgba(207,34,46,.2);stroke:var(--ask);stroke-width:1.5}
.chart .series{fill:none;stroke:var(--accent);stroke-width:2}
.chart .axis{stroke:#c0c7cf;stroke-width:1}
.chart .label{font-size:11px;fill:var(--muted)}
.chart .muted{font-size:13px;fill:var(--muted)}
.report{border:1px solid var(--line);border-radius:.4rem;padding:.2rem 1rem;margin:.6rem 0}
.afmm-card{border:1px solid var(--line);border-radius:.4rem;padding:.2rem 1rem;margin:.8rem 0}
.rules ol{padding-left:1.2rem}
.rules li{margin:.35rem 0;list-style:none}
pre{background:var(--soft);padding:.6rem;border-radius:.3rem;overflow:auto;font-size:.8rem;max-height:30rem}
.toc ol{columns:2}
.links{columns:2}
`;

export const SITE_JS = `// Junction's public site: live updates. The page names its channel (body data-live); the node sends
// {seq, fragments: {id: html}} after durable batches, each fragment replacing the element of its id.
(function () {
  'use strict';
  var topic = document.body.getAttribute('data-live');
  if (!topic || !window.WebSocket) return;
  var badge = document.getElementById('live');
  var delay = 1000;
  function state(on) {
    if (!badge) return;
    badge.classList.toggle('on', on);
    badge.classList.toggle('off', !on);
    badge.textContent = on ? 'live' : 'reconnecting';
  }
  function connect() {
    var ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/site?topics=' + encodeURIComponent(topic));
    ws.onopen = function () { delay = 1000; state(true); };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      var f = m.fragments || {};
      for (var id in f) {
        if (!Object.prototype.hasOwnProperty.call(f, id)) continue;
        var el = document.getElementById(id);
        if (el) el.outerHTML = f[id];
      }
      document.body.setAttribute('data-seq', String(m.seq));
    };
    ws.onclose = function () {
      state(false);
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
`;

export const SITE_ICON = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#0550ae"/><path d="M19 7v12a5 5 0 0 1-10 0" fill="none" stroke="#fff" stroke-width="3.5" stroke-linecap="round"/></svg>
`;
