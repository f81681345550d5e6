"""Short probe behind the ladder recipe's optimizer: Adam vs SGD on the cpu preset, PTB, from scratch.

Usage (from the repository root; about 5 minutes on one thread)::

    python benchmarks/probe_optimizer.py --data-dir /work/shared/data/ptb --out /tmp/probe

Trains EGRU and LSTM for ``--epochs`` (default 0.12, 159 steps of batch 20 x bptt 35) with SGD
(lr 20, the pytorch word_language_model setting) and with Adam (lr 3e-3), gradient clip 0.25, and
prints (step, train ppl, valid ppl on the first 4,000 valid tokens, activity sparsity) at every
validation. It only tells which optimizer learns at all early on; it does not predict the end of
a long run.
"""

from __future__ import annotations

import argparse
import time

from neurosim.models.train import TrainConfig, train

CONFIGS = (("egru", "sgd", 20.0), ("egru", "adam", 3e-3), ("lstm", "sgd", 20.0), ("lstm", "adam", 3e-3))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True, help="folder for the probe runs (reused runs resume)")
    p.add_argument("--epochs", type=float, default=0.12)
    args = p.parse_args(argv)
    for model, opt, lr in CONFIGS:
        t = time.process_time()
        ck = train(
            TrainConfig(
                model=model, dataset="ptb", data_dir=args.data_dir, preset="cpu", out=f"{args.out}/{model}_{opt}",
                epochs=args.epochs, batch_size=20, bptt=35, lr=lr, optimizer=opt, schedule="plateau", clip=0.25,
                warmup_steps=0, eval_tokens=4000, eval_every=0.04, progress=False,
                overrides={"thr_mean": 0.2} if model == "egru" else {},
            ),
            log=lambda *a: None,
        )
        rows = [(r["step"], r["train_ppl"], r["val_ppl"], r["activity_sparsity"]) for r in ck["history"]]
        print(f"{model} {opt} lr={lr:g} cpu={time.process_time() - t:.0f}s (step, train ppl, val ppl, activity sparsity): {rows}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
