"""Dense LSTM on an H100 vs a 90%-pruned EGRU on Loihi-like and SpiNNaker2-like chips.

Runs `neurosim.compare` on the shipped PTB traces and writes, next to this file:
- `gpu_vs_neuromorphic.csv`: the table (energy and its static share, cycles, latency, tokens/s, bytes per
  token, perplexity);
- `gpu_vs_neuromorphic.png`: energy per token by component (static apart), latency and tokens/s;
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

import pandas as pd

from neurosim.compare import compare, format_table, plot_compare

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512, help="tokens of each trace to simulate")
    parser.add_argument("--out-dir", default=str(HERE), help="folder for the .csv, .png and .txt (default: beside this file)")
    args = parser.parse_args(argv)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # the question of the example: the dense LSTM on the GPU, the pruned EGRU on the event chips
    # (the decoder included on both sides, the readout default)
    df = pd.concat([compare(["ptb_lstm0"], ["gpu_h100"], [1, 64], tokens=args.tokens),
                    compare(["ptb_egru90"], ["loihi_like", "spinnaker2_like"], [1], tokens=args.tokens)],
                   ignore_index=True)
    df.to_csv(out / "gpu_vs_neuromorphic.csv", index=False)
    plot_compare(df, out / "gpu_vs_neuromorphic.png")
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
