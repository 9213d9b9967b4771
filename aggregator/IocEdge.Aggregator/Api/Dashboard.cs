namespace IocEdge.Aggregator.Api;

/// <summary>
/// A single live page over the API: every channel's latest value, refreshed every two seconds. The bilingual operations
/// dashboard is a later stage; this page is what a technician opens to see that data arrives.
/// </summary>
internal static class Dashboard
{
    public const string Html = """
        <!doctype html>
        <html lang="vi">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>IocEdge – Giá trị mới nhất / Latest values</title>
        <style>
          body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #1b2733; }
          h1 { font-size: 1.3rem; margin: 0 0 .25rem; }
          .sub { color: #5a6b7b; margin-bottom: 1rem; }
          table { border-collapse: collapse; min-width: 44rem; }
          th, td { padding: .35rem .7rem; border-bottom: 1px solid #dde3ea; text-align: left; white-space: nowrap; }
          td.v { text-align: right; font-variant-numeric: tabular-nums; font-weight: 600; }
          .good { color: #1d7a35; } .stale { color: #a86b00; } .comm_failure, .device_exception { color: #b3261e; }
        </style>
        </head>
        <body>
        <h1>IocEdge — Giá trị mới nhất / Latest values</h1>
        <div class="sub">Cập nhật / updated: <span id="updated">…</span> · <a href="/api/v1/latest">/api/v1/latest</a> · <a href="/api/v1/gateways">/api/v1/gateways</a></div>
        <table>
          <thead><tr><th>Gateway</th><th>Kênh / Channel</th><th>Giá trị / Value</th><th>Đơn vị / Unit</th><th>Chất lượng / Quality</th><th>Thời điểm (UTC) / Time</th></tr></thead>
          <tbody id="rows"><tr><td colspan="6">Đang chờ dữ liệu… / waiting for data…</td></tr></tbody>
        </table>
        <script>
        function cell(text, cls) { const td = document.createElement('td'); td.textContent = text; if (cls) td.className = cls; return td; }
        async function refresh() {
          try {
            const r = await fetch('/api/v1/latest', { cache: 'no-store' });
            const data = await r.json();
            const rows = document.getElementById('rows');
            rows.replaceChildren();
            for (const x of data.readings) {
              const tr = document.createElement('tr');
              tr.append(cell(x.gateway), cell(x.channel), cell(x.value === null ? '—' : x.unit === 'state' ? String(x.value) : x.value.toFixed(2), 'v'),
                        cell(x.unit), cell(x.quality, x.quality), cell(x.ts.replace('T', ' ').replace('Z', '')));
              rows.append(tr);
            }
            document.getElementById('updated').textContent = new Date(data.generated_at).toLocaleTimeString();
          } catch (e) {
            document.getElementById('updated').textContent = 'lỗi kết nối / connection error';
          }
        }
        refresh();
        setInterval(refresh, 2000);
        </script>
        </body>
        </html>
        """;
}
