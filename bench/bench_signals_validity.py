"""``make bench`` entry of the signal validity bench (bench/signals_validity.py): false
halt recommendations and detection of planted lots on a synthetic county, per method."""

from __future__ import annotations

from bench import signals_validity


def main() -> None:
    signals_validity.main()
