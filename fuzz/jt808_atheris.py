"""Coverage-guided fuzzing of the JT/T 808 splitter and decoder with atheris.

    pip install -e '.[fuzz]'
    python fuzz/jt808_atheris.py -atheris_runs=1000000 -rss_limit_mb=512 -max_total_time=600

Anything but a typed ``Jt808Error`` escaping the target is a crash; libFuzzer's
``-rss_limit_mb`` and ``-timeout`` catch unbounded memory and hangs.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from icvcloud.protocols import jt808

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.protocols.jt808.corpus import frames
from tests.protocols.jt808.test_fuzz import decode_everything


def seed_corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i, fr in enumerate(frames()):
        (directory / f"seed{i:03d}").write_bytes(fr)


def test_one_input(data: bytes) -> None:
    decode_everything(data)
    # Also the frame decoder on its own, without the splitter's filtering of flags.
    with contextlib.suppress(jt808.Jt808Error):
        jt808.decode(data)


def main() -> None:
    corpus = Path(__file__).resolve().parent / "corpus-jt808"
    if not corpus.exists():
        seed_corpus(corpus)
    atheris.Setup([sys.argv[0], str(corpus), *sys.argv[1:]], test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
