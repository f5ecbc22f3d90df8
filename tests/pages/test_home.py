"""Home's "How to use this app" names every page the navigation offers, Lessons included."""

from __future__ import annotations

import re

from aecf import paths


def test_how_to_use_names_every_page():
    from streamlit.testing.v1 import AppTest

    titles = re.findall(r'st.Page\([^)]*title="([^"]+)"', (paths.ROOT / "app.py").read_text())
    assert "Lessons" in titles
    at = AppTest.from_file(str(paths.ROOT / "pages" / "home.py"), default_timeout=120).run()
    assert not at.exception, [e.value for e in at.exception]
    how = next(m.value for m in at.markdown if m.value.startswith("1. **"))
    assert [f"**{t}**" for t in titles if t != "Home"] == re.findall(r"\*\*[^*]+\*\*", how)
