"""Looks at the built HTML docs in a real headless browser: code blocks that scroll sideways, and screenshots.

Opens every page of ``docs/_build/html`` in Chromium at each window width
(1280 and 800 pixels by default) and lists the code blocks wider than their
box (a reader would have to scroll them sideways) and pages wider than the
window; saves a screenshot of the first screen of each page named with
``--screenshots``. Needs Playwright's Python package and a Chromium
(Debian's ``chromium``): not part of the test suite, which runs without a
browser.

Usage: python docs/check_layout.py [--html docs/_build/html] [--widths 1280,800] [--screenshots index,getting_started]
"""

import argparse
import glob
import os
import sys

OVERFLOWS = """() => {
    const blocks = [...document.querySelectorAll("div.highlight pre, pre.literal-block, pre.doctest-block")];
    const wide = blocks.filter(b => b.scrollWidth > b.clientWidth + 1)
                       .map(b => b.textContent.split("\\n").reduce((a, l) => l.length > a.length ? l : a, ""));
    // A block whose rendered height holds more lines than its text has wraps (no scrolling, but a longer read).
    const wrapped = blocks.filter(b => {
        const lines = b.textContent.replace(/\\n$/, "").split("\\n").length;
        const style = getComputedStyle(b);
        const inner = b.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom);
        return inner > (lines + 0.5) * parseFloat(style.lineHeight);
    }).length;
    return {blocks: blocks.length, wide, wrapped, page: document.documentElement.scrollWidth};
}"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--html", default=os.path.join(os.path.dirname(__file__), "_build", "html"))
    parser.add_argument("--widths", default="1280,800")
    parser.add_argument("--screenshots", default="index,getting_started,api-models", help="pages to photograph")
    parser.add_argument("--out", default="/tmp/tfkit-docs-screens")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    pages = sorted(glob.glob(os.path.join(args.html, "*.html")) + glob.glob(os.path.join(args.html, "api", "*.html")))
    pages = [p for p in pages if os.path.basename(p) not in ("genindex.html", "search.html", "py-modindex.html")]
    os.makedirs(args.out, exist_ok=True)
    failures = 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        for width in map(int, args.widths.split(",")):
            page = browser.new_page(viewport={"width": width, "height": 900})
            blocks = wide_blocks = wrapped = 0
            for path in pages:
                name = os.path.relpath(path, args.html).removesuffix(".html").replace(os.sep, "-")
                page.goto(f"file://{os.path.abspath(path)}")
                found = page.evaluate(OVERFLOWS)
                blocks += found["blocks"]
                wide_blocks += len(found["wide"])
                wrapped += found["wrapped"]
                for line in found["wide"]:
                    print(f"{width}px {name}: a code block scrolls sideways; its longest line ({len(line)} chars): "
                          f"{line.strip()[:100]}")
                if found["page"] > width:
                    print(f"{width}px {name}: the page is {found['page']} px wide")
                    failures += 1
                if name in args.screenshots.split(","):
                    page.screenshot(path=os.path.join(args.out, f"{name}-{width}.png"))
            failures += wide_blocks
            print(f"{width}px: {len(pages)} pages, {blocks} code blocks, {wide_blocks} scroll sideways, {wrapped} wrap a line")
        browser.close()
    print(f"screenshots in {args.out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
