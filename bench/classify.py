"""Benchmark: how well the catalogue classifies real-looking Chinese POIs.

Run ``python bench/classify.py [corpus.csv] [--catalogue FILE]``. Reads the labelled corpus
(``tests/data/poi_corpus.csv``: names and tags as OSM China and Amap exports carry them,
positives and tricky negatives for every category) and prints precision and recall per
category, with the names misread. The floor the tests hold: 0.95 for every category.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table

from service_circle.catalogue import classification_scores, load_catalogue

CORPUS = Path(__file__).resolve().parents[1] / "tests" / "data" / "poi_corpus.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("corpus", nargs="?", type=Path, default=CORPUS)
    parser.add_argument("--catalogue", type=Path, default=None)
    args = parser.parse_args()
    with args.corpus.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    scores = classification_scores(rows, load_catalogue(args.catalogue))
    print(f"{len(rows)} POIs, {sum(bool(r['expected']) for r in rows)} of them facilities")
    print_table(scores, ["category", "positives", "false_positive", "false_negative",
                         "precision", "recall"])  # fmt: skip
    for s in scores:
        for error in s["errors"]:
            print(f"  {s['category']}: {error}")


if __name__ == "__main__":
    main()
