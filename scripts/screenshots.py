"""Build the docs site, look at every page in headless Chromium at 1280 px and 390 px.

    python scripts/screenshots.py                 # build, check every page, shots in /tmp
    python scripts/screenshots.py --update-docs   # also refresh docs/screenshots/*.png
    python scripts/screenshots.py --site site/    # check an already built site

For each page and width it records whether the page scrolls sideways (the document's
``scrollWidth`` is larger than the window's ``innerWidth``: content is cut off or the whole
page slides) and how many code blocks need a horizontal scroll bar; it prints a table and
exits with status 1 when any page overflows. Screenshots (the first screen of each page) go
to ``--out``; with ``--update-docs`` the home page, the CLI guide and one API page at
1280 px are copied to ``docs/screenshots/`` (each kept under 400 KB).

Needs ``chromium`` (``apt-get install chromium``) or ``--chromium PATH``, and the docs extra
(``pip install -e ".[docs]"``). Nothing is fetched from the network: the site is served from
localhost and Chromium runs with its background networking off.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (1280, 390)
HEIGHT = 900
DOC_SHOTS = {
    "index.html": "home",
    "guide/cli/index.html": "cli-guide",
    "api/vocab/index.html": "api-vocab",
}
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--hide-scrollbars",
    "--disable-dev-shm-usage",
]
# Appended to every HTML page served: after layout, write the measurements into the DOM,
# where `chromium --dump-dom` finds them.
PROBE = b"""<script>
window.addEventListener("load", () => {
  const codes = [...document.querySelectorAll("pre > code")];
  const wide = codes.filter((c) => c.scrollWidth > c.clientWidth + 1).length;
  const m = {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
             wideCode: wide, codeBlocks: codes.length};
  const el = document.createElement("div");
  el.id = "seqdata-probe"; el.textContent = JSON.stringify(m); document.body.appendChild(el);
});
</script>"""


# Chromium's windows are at least 500 px wide: a phone's width is an iframe of that width,
# whose measurements the page around it copies out.
FRAME = """<html><body style="margin:0"><iframe id="f" src="{src}" width="{width}"
height="{height}" style="border:0"></iframe><script>
const t = setInterval(() => {{
  const doc = document.getElementById("f").contentDocument;
  const probe = doc && doc.getElementById("seqdata-probe");
  if (probe) {{ clearInterval(t); const el = document.createElement("div");
    el.id = "seqdata-probe"; el.textContent = probe.textContent; document.body.appendChild(el); }}
}}, 50);
</script></body></html>"""
MIN_WINDOW = 500


def page_url(base: str, page: str, width: int) -> str:
    """The page's URL, or that of a frame ``width`` px wide around it on a narrow screen."""
    if width >= MIN_WINDOW:
        return base + page
    return f"{base}__frame__?src=/{page}&width={width}"


class _Handler(http.server.SimpleHTTPRequestHandler):
    probe = False

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def send_head(self):  # type: ignore[no-untyped-def]
        if self.path.startswith("/__frame__?"):
            from urllib.parse import parse_qs, urlsplit

            query = parse_qs(urlsplit(self.path).query)
            html = FRAME.format(src=query["src"][0], width=query["width"][0], height=HEIGHT)
            return self._send(html.encode())
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            path = path / "index.html"
        if not (self.probe and path.suffix == ".html" and path.is_file()):
            return super().send_head()
        return self._send(path.read_bytes().replace(b"</body>", PROBE + b"</body>"))

    def _send(self, body: bytes) -> _Bytes:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return _Bytes(body)


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, *_: object) -> bytes:
        data, self.data = self.data, b""
        return data

    def close(self) -> None:
        pass


@contextlib.contextmanager
def serve(site: Path, probe: bool) -> Iterator[str]:
    """Serve ``site`` on a free localhost port; yield its base URL."""
    handler = functools.partial(type("H", (_Handler,), {"probe": probe}), directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def build(site: Path) -> None:
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "-q", "-d", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"mkdocs build failed:\n{result.stdout}{result.stderr}")


def chromium(binary: str, width: int, *args: str, timeout: int = 60) -> str:
    width = max(width, MIN_WINDOW)
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [binary, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{HEIGHT}",
             *args],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    return result.stdout


def measure(binary: str, url: str, width: int) -> dict[str, int]:
    dom = chromium(binary, width, "--virtual-time-budget=5000", "--dump-dom", url)
    m = re.search(r'<div id="seqdata-probe">(.*?)</div>', dom)
    if m is None:
        return {"scrollWidth": -1, "innerWidth": width, "wideCode": -1, "codeBlocks": -1}
    return dict(json.loads(m[1].replace("&quot;", '"')))


def shoot(binary: str, url: str, width: int, path: Path) -> None:
    chromium(binary, width, "--virtual-time-budget=5000", f"--screenshot={path}", url)


def pages(site: Path) -> list[str]:
    found = sorted(p.relative_to(site).as_posix() for p in site.rglob("index.html"))
    return [p for p in found if not p.startswith(("assets/", "search/"))] or ["index.html"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, help="a built site (default: build one)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "seqdata-shots")
    parser.add_argument("--update-docs", action="store_true", help="refresh docs/screenshots/")
    parser.add_argument("--only", nargs="*", help="page paths to check (default: every page)")
    parser.add_argument("--chromium", default=None, help="the chromium binary")
    args = parser.parse_args(argv)
    binary = args.chromium or next(
        (b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None
    )
    if binary is None:
        sys.exit("no chromium found: apt-get install chromium, or pass --chromium PATH")
    site = args.site
    if site is None:
        site = Path(tempfile.mkdtemp(prefix="seqdata-site-"))
        build(site)
    args.out.mkdir(parents=True, exist_ok=True)
    todo = args.only or pages(site)
    bad = []
    print(
        f"{'page':<44}{'width':>6}{'innerWidth':>11}{'scrollWidth':>12}{'wide code':>11}  verdict"
    )
    with serve(site, probe=True) as base:
        for page in todo:
            for width in WIDTHS:
                m = measure(binary, page_url(base, page, width), width)
                over = m["scrollWidth"] > m["innerWidth"] or m["scrollWidth"] < 0
                verdict = "OVERFLOWS" if over else "ok"
                if over:
                    bad.append(f"{page} at {width} px")
                print(
                    f"{page:<44}{width:>6}{m['innerWidth']:>11}{m['scrollWidth']:>12}"
                    f"{m['wideCode']:>5}/{m['codeBlocks']:<5}  {verdict}"
                )
    with serve(site, probe=False) as base:
        for page in todo:
            for width in WIDTHS:
                name = page.removesuffix("index.html").strip("/").replace("/", "-") or "home"
                shoot(binary, page_url(base, page, width), width, args.out / f"{name}-{width}.png")
            if args.update_docs and page in DOC_SHOTS:
                target = ROOT / "docs" / "screenshots" / f"{DOC_SHOTS[page]}-1280.png"
                target.parent.mkdir(exist_ok=True)
                shutil.copyfile(args.out / f"{name}-1280.png", target)
                size = target.stat().st_size
                print(f"wrote {target.relative_to(ROOT)} ({size // 1024} KB)")
                if size > 400 * 1024:
                    bad.append(f"{target.name} is {size // 1024} KB > 400 KB")
    print(f"screenshots in {args.out}")
    if bad:
        print("problems:\n  " + "\n  ".join(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
