namespace IocEdge.Aggregator.Api;

/// <summary>
/// A single live page over the API: every channel's latest value, refreshed every two seconds. The bilingual operations
/// dashboard is a later stage; this page is what a technician opens to see that data arrives.
/// </summary>
/// <remarks>
/// The page's HTML is open (<c>ApiKeyExtensions.OpenRoutes</c>); its data comes from <c>GET /api/v1/latest</c>, which
/// needs a read key once keys exist (aggregator/README.md, "HTTP API keys"). When the API answers 401 the page stops
/// polling and asks for a key; the key is kept in <c>sessionStorage</c> and sent as <c>X-Api-Key</c>, never in the URL
/// (URLs end up in proxy and access logs, the browser's history and Referer headers). With no key configured (the
/// demo) the API answers 200 and the page never asks. It follows the API's <c>next</c> links, so a page size smaller
/// than the number of channels (Aggregator:Api:DefaultPageSize) still shows every channel.
/// </remarks>
internal static class Dashboard
{
    public const string Html = """
        <!doctype html>
        <html lang="vi">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="referrer" content="no-referrer">
        <title>IocEdge – Giá trị mới nhất / Latest values</title>
        <style>
          body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b2733; }
          h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
          .sub { color: #5a6b7b; margin-bottom: 1rem; }
          table { border-collapse: collapse; min-width: 44rem; }
          th, td { padding: .35rem .7rem; border-bottom: 1px solid #dde3ea; text-align: left; white-space: nowrap; }
          td.v { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
          .good { color: #1d7a35; } .stale { color: #a86b00; } .comm_failure, .device_exception { color: #b3261e; }
          #keyform { border: 1px solid #dde3ea; padding: .8rem 1rem; margin-bottom: 1rem; max-width: 40rem; }
          #keyform input { width: 24rem; font-family: monospace; }
          #keyerror { color: #b3261e; margin: .5rem 0 0; }
          [hidden] { display: none !important; }
        </style>
        </head>
        <body>
        <h1>IocEdge — Giá trị mới nhất / Latest values</h1>
        <div class="sub">Cập nhật / updated: <span id="updated">…</span> · <a href="/api/v1/latest">/api/v1/latest</a> · <a href="/api/v1/gateways">/api/v1/gateways</a>
          <span id="forgetbox" hidden> · <a href="#" id="forget">Quên khóa / forget key</a></span></div>
        <!-- No name on the input and method post: even without script the key is never put in a URL. -->
        <form id="keyform" method="post" action="#" autocomplete="off" hidden>
          <p>Máy chủ yêu cầu khóa API (quyền đọc). / The server requires an API key (read scope).</p>
          <label>Khóa API / API key: <input id="key" type="password" spellcheck="false" required></label>
          <button type="submit">Dùng khóa / Use key</button>
          <p id="keyerror" role="alert" hidden></p>
        </form>
        <table id="table">
          <thead><tr><th>Gateway</th><th>Kênh / Channel</th><th>Giá trị / Value</th><th>Đơn vị / Unit</th><th>Chất lượng / Quality</th><th>Thời điểm (UTC) / Time</th></tr></thead>
          <tbody id="rows"><tr><td colspan="6">Đang chờ dữ liệu… / waiting for data…</td></tr></tbody>
        </table>
        <script>
        // The key lives in sessionStorage, not localStorage: sessionStorage belongs to this tab only and is gone when the
        // tab or browser closes, so a key typed on a shared control-room PC is not left on its disk for the next user
        // (localStorage persists indefinitely and is shared by every tab of the origin). Either is readable by script of
        // this origin, so this page writes every value with textContent, never as HTML.
        const KEY = 'iocedge.apiKey';
        const $ = id => document.getElementById(id);
        let timer = null;
        function storedKey() { try { return sessionStorage.getItem(KEY); } catch (e) { return null; } }
        function cell(text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; }
        // Every stop (a new key, "forget key", a 401) starts a new epoch: a refresh still in flight from before it
        // drops its answer instead of showing values fetched with a key that is gone.
        let epoch = 0;
        function stop() { epoch++; if (timer !== null) { clearInterval(timer); timer = null; } }
        function start() { stop(); refresh(); timer = setInterval(refresh, 2000); }
        function askForKey(error) {
          stop();
          $('keyform').hidden = false;
          $('keyerror').hidden = !error;
          $('keyerror').textContent = error || '';
          $('rows').replaceChildren();
          $('updated').textContent = 'cần khóa API / API key needed';
          $('key').focus();
        }
        async function refresh() {
          const mine = epoch;
          const key = storedKey();
          $('forgetbox').hidden = !key;
          try {
            const readings = [];
            let url = '/api/v1/latest', generated = null;
            // Follow 'next' so that every channel shows whatever the server's page size (at most 100 pages).
            for (let pages = 0; url && pages < 100; pages++) {
              const r = await fetch(url, { cache: 'no-store', headers: key ? { 'X-Api-Key': key } : {} });
              if (mine !== epoch) { return; }
              if (r.status === 401) {
                if (key) {
                  sessionStorage.removeItem(KEY);
                  $('forgetbox').hidden = true;
                  askForKey('Khóa API không đúng / wrong API key: máy chủ không nhận khóa này / the server does not know this key.');
                } else {
                  askForKey(null);
                }
                return;
              }
              if (!r.ok) {
                $('updated').textContent = 'lỗi máy chủ / server error: HTTP ' + r.status;
                return;
              }
              const data = await r.json();
              if (mine !== epoch) { return; }
              readings.push(...data.readings);
              generated = data.generated_at;
              url = data.next;
            }
            $('keyform').hidden = true;
            const rows = $('rows');
            rows.replaceChildren();
            for (const x of readings) {
              const tr = document.createElement('tr');
              tr.append(cell(x.gateway), cell(x.channel), cell(x.value === null ? '—' : x.unit === 'state' ? String(x.value) : x.value.toFixed(2), 'v'),
                        cell(x.unit), cell(x.quality, x.quality), cell(x.ts.replace('T', ' ').replace('Z', '')));
              rows.append(tr);
            }
            $('updated').textContent = new Date(generated).toLocaleTimeString();
          } catch (e) {
            if (mine !== epoch) { return; }
            $('updated').textContent = 'lỗi kết nối / connection error';
          }
        }
        $('keyform').addEventListener('submit', ev => {
          ev.preventDefault();
          const key = $('key').value.trim();
          $('key').value = '';
          if (!key) { return; }
          sessionStorage.setItem(KEY, key);
          $('keyerror').hidden = true;
          $('updated').textContent = '…';
          start();
        });
        $('forget').addEventListener('click', ev => {
          ev.preventDefault();
          sessionStorage.removeItem(KEY);
          $('forgetbox').hidden = true;
          start();
        });
        start();
        </script>
        </body>
        </html>
        """;
}
