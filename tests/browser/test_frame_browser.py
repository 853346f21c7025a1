"""Clickjacking: no page of the app can be framed by another site (Chromium enforces it)."""

from __future__ import annotations

import http.server
import threading

import pytest


@pytest.mark.browser
def test_a_page_is_not_frameable(live_server, page):
    """A payment page framed by another site stays empty: the browser refuses it."""
    target = f"{live_server.url}/login"
    html = f'<iframe id="f" src="{target}" width="600" height="400"></iframe>'.encode()

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Evil)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page.goto(f"http://localhost:{server.server_port}/")
        page.wait_for_timeout(500)
        frame = page.frame_locator("#f")
        assert frame.locator("input[type=password]").count() == 0
        assert page.frames[-1].url in ("", "about:blank", "chrome-error://chromewebdata/") or (
            page.frames[-1].content().count("password") == 0
        )
    finally:
        server.shutdown()
        server.server_close()
        page.csp_violations.clear()  # the refusal is the point here
