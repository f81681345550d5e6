"""Dense LSTM on an H100 vs a 90%-pruned EGRU on Loihi-like and SpiNNaker2-like chips.

Runs `neurosim.compare` on the shipped PTB traces and writes, next to this file:
- `gpu_vs_neuromorphic.csv`: the table (energy, latency, tokens/s, bytes per token, perplexity);
- `gpu_vs_neuromorphic.png`: energy per token by component;
- `gpu_vs_neuromorphic.txt`: the printed table.

    python examples/gpu_vs_neuromorphic.py [--tokens 512] [--out-dir DIR]

The perplexities come from the traces' meta (full PTB test split), so the
comparison is at (roughly) matched perplexity only as far as the shipped models
match; the printout says how far apart they are.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurosim.compare import compare, format_table, plot_energy

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512, help="tokens of each trace to simulate")
    parser.add_argument("--out-dir", default=str(HERE), help="folder for the .csv, .png and .txt (default: beside this file)")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    df = compare(["ptb_lstm0", "ptb_egru90"], ["gpu_h100", "loihi_like", "spinnaker2_like"], [1, 64],
                 tokens=args.tokens)
    # the question of the example: the dense LSTM on the GPU, the pruned EGRU on the event chips
    keep = ((df["trace"] == "ptb_lstm0") & (df["backend"] == "gpu")) | (
        (df["trace"] == "ptb_egru90") & (df["backend"] == "event")
    )
    df = df[keep].reset_index(drop=True)
    df.to_csv(out / "gpu_vs_neuromorphic.csv", index=False)
    plot_energy(df, out / "gpu_vs_neuromorphic.png")
    text = format_table(df)
    ppl = df.groupby("trace")["perplexity"].first()
    text += "\n\nperplexity (full PTB test split, from the trace meta): " + ", ".join(
        f"{name} {value:.1f}" for name, value in ppl.items()
    )
    (out / "gpu_vs_neuromorphic.txt").write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
