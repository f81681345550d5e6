"""The results store: rows written as parquet part files while a sweep runs, consolidated into one file at the end."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

STATUS_OK, STATUS_ERROR = "ok", "error"
TIMING_COLUMNS = ("elapsed_s", "meta.build_s", "meta.simulate_s")  # differ between otherwise identical runs


def parts_dir(out: str | Path) -> Path:
    """Folder of the part files written while a sweep runs: ``OUT.parts/``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _parquet_safe(df).to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns that mix types (e.g. a number and a word along one axis) become text."""
    out = df.copy()
    for col in out.columns[out.dtypes == object]:
        kinds = {type(v) for v in out[col] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1 and not kinds <= {int, float, bool, np.int64, np.float64}:
            out[col] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in out[col]]
    return out


class _PartWriter:
    """Buffers finished rows and writes them as parquet part files (each written atomically)."""

    def __init__(self, out: Path, flush_s: float = 2.0, flush_rows: int = 256):
        self.folder = parts_dir(out)
        self.flush_s, self.flush_rows = flush_s, flush_rows
        self.pending: list[dict] = []
        self.last = time.monotonic()
        self.seq = 0

    def add(self, rows: list[dict]) -> None:
        self.pending.extend(rows)
        if len(self.pending) >= self.flush_rows or time.monotonic() - self.last >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"part-{time.time_ns():020d}-{os.getpid()}-{self.seq:06d}.parquet"
            _atomic_parquet(pd.DataFrame(self.pending), self.folder / name)
            self.seq += 1
            self.pending = []
        self.last = time.monotonic()


def remove_stale_temp(out: str | Path) -> None:
    """Remove the temporary files of writes that never finished (a sweep killed mid-write)."""
    out = Path(out)
    stale = list(out.parent.glob(f".{out.name}.*.tmp"))
    folder = parts_dir(out)
    if folder.is_dir():
        stale += folder.glob(".part-*.tmp")
    for p in stale:
        p.unlink(missing_ok=True)


def read_results(out: str | Path) -> pd.DataFrame:
    """The rows of ``OUT`` and of any part files not yet consolidated; the last row of a point wins."""
    out = Path(out)
    frames = []
    if out.is_file():
        frames.append(_read_parquet(out))
    folder = parts_dir(out)
    if folder.is_dir():
        frames.extend(_read_parquet(p) for p in sorted(folder.glob("part-*.parquet")))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    return df.drop_duplicates("point_id", keep="last").reset_index(drop=True)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        problem = " ".join(str(exc).split())[:120]
        raise ValueError(f"{path}: not a readable results parquet ({problem}); move it away, or give another "
                         "--out") from None


def consolidate(out: str | Path, order: list[str] | None = None) -> pd.DataFrame:
    """Merge ``OUT`` and its part files into ``OUT`` (atomically), then remove the parts.

    ``order`` (point ids) sorts the rows; rows of other points follow in their stored order.
    """
    out = Path(out)
    df = read_results(out)
    if df.empty:
        return df
    if order is not None:
        rank = {pid: i for i, pid in enumerate(order)}
        key = df["point_id"].map(rank).fillna(len(rank)).to_numpy()
        df = df.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_parquet(df, out)
    folder = parts_dir(out)
    if folder.is_dir():
        for p in folder.glob("part-*.parquet"):
            p.unlink()
        try:
            folder.rmdir()
        except OSError:
            pass
    return df
