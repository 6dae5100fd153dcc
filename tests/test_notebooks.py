"""The walkthrough notebook runs from top to bottom, and is stored without outputs."""

from __future__ import annotations

import nbformat
import pytest
from conftest import ROOT
from nbclient import NotebookClient

NOTEBOOK = ROOT / "notebooks" / "walkthrough.ipynb"

pytestmark = pytest.mark.slow


def test_stored_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)


def test_walkthrough_runs(tmp_path, sample_cache, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(sample_cache.parent / "xdg"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # fmt: skip
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )  # fmt: skip
    assert "worst served within 10 minutes" in text
    assert "mclp exact (HiGHS) optimal" in text
    html = [o for c in nb.cells for o in c.get("outputs", []) if "text/html" in o.get("data", {})]
    assert any("L.map" in o["data"]["text/html"] or "iframe" in o["data"]["text/html"]
               for o in html)  # fmt: skip
