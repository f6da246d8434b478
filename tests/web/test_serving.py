"""The built web app as the local stack serves it (the CloudFront distribution's rules)."""

from __future__ import annotations

import re

import httpx


def test_hashed_assets_are_cached_for_good_and_the_page_is_revalidated(web: str) -> None:
    page = httpx.get(f"{web}/projects/some-id/versions")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    scripts = re.findall(r'src="(/assets/[^"]+\.js)"', page.text)
    assert scripts, page.text
    asset = httpx.get(f"{web}{scripts[0]}")
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/javascript")
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert httpx.get(f"{web}/assets/not-built.js").status_code == 404
