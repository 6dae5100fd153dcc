"""The live API against its own OpenAPI schema, with schemathesis's own runner.

Schemathesis runs as a command against a real ``service-circle serve`` (uvicorn on a
loopback port), through all its phases — examples, coverage, fuzzing and stateful
sequences that follow the schema's links from ``GET /studies`` — with every check: no
5xx, every answer conforming to the schema, schema-valid requests accepted and invalid
ones rejected. Running its command instead of its pytest plugin keeps this test
independent of pytest's internals (pytest 9.2 broke the plugin's lazy fixtures).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow

CONFIG = Path(__file__).parent / "schemathesis" / "schemathesis.toml"
ARTIFACTS = ROOT / "test-artifacts" / "schemathesis"


def _schemathesis() -> list[str]:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", "schemathesis.cli"]


def test_schemathesis_finds_nothing(live, tmp_path):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    report = ARTIFACTS / "report.json"
    run = subprocess.run(
        [
            *_schemathesis(), "--no-color", "--config-file", str(CONFIG), "run",
            f"{live}/openapi.json",
            "--checks", "all",
            "--phases", "examples,coverage,fuzzing,stateful",
            "--max-examples", "60",
            "--workers", "1",
            "--seed", "20261201",
            "--request-timeout", "60",
            "--report", "json", "--report-json-path", str(report),
        ],
        capture_output=True, text=True, timeout=600, check=False,
        cwd=tmp_path,  # its example cache (.schemathesis/) goes there, not into the checkout
    )  # fmt: skip
    output = run.stdout + run.stderr
    (ARTIFACTS / "output.txt").write_text(output)
    assert run.returncode == 0, output[-6000:]
    summary = json.loads(report.read_text()) if report.exists() else {}
    assert "Stateful" in output, "the stateful phase (links from GET /studies) did not run"
    assert summary or "generated" in output
