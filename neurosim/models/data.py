"""Word-level corpora (Penn Treebank, WikiText-2): ``line.split() + ['<eos>']``."""

from __future__ import annotations

from pathlib import Path

import torch

SPLITS = ("train", "valid", "test")
DATASETS = ("ptb", "wt2")


class Dictionary:
    """Word <-> id, ids in order of first appearance."""

    def __init__(self, words: list[str] | None = None) -> None:
        self.idx2word: list[str] = []
        self.word2idx: dict[str, int] = {}
        for w in words or []:
            self.add(w)

    def add(self, word: str) -> int:
        if word not in self.word2idx:
            self.word2idx[word] = len(self.idx2word)
            self.idx2word.append(word)
        return self.word2idx[word]

    def __len__(self) -> int:
        return len(self.idx2word)


def read_tokens(path: Path) -> list[str]:
    out: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            out.extend(line.split() + ["<eos>"])
    return out


class Corpus:
    """The three splits of ``data_dir`` as int64 id tensors.

    The vocabulary is built from train, then valid and test (which add no
    words for PTB and WikiText-2). Pass ``dictionary`` to reuse a checkpoint's.
    """

    def __init__(self, data_dir: str | Path, dictionary: Dictionary | None = None) -> None:
        data_dir = Path(data_dir)
        missing = [s for s in SPLITS if not (data_dir / f"{s}.txt").is_file()]
        if missing:
            raise FileNotFoundError(
                f"--data-dir: {str(data_dir)!r} lacks {', '.join(m + '.txt' for m in missing)}; allowed: a folder with train.txt, valid.txt, test.txt"
            )
        self.dictionary = dictionary if dictionary is not None else Dictionary()
        frozen = dictionary is not None
        self.splits: dict[str, torch.Tensor] = {}
        for s in SPLITS:
            words = read_tokens(data_dir / f"{s}.txt")
            if frozen:
                unk = self.dictionary.word2idx.get("<unk>")
                ids = []
                for w in words:
                    i = self.dictionary.word2idx.get(w, unk)
                    if i is None:
                        raise ValueError(
                            f"{s}.txt: word {w!r} is not in the checkpoint's vocabulary and there is no <unk>"
                        )
                    ids.append(i)
            else:
                ids = [self.dictionary.add(w) for w in words]
            self.splits[s] = torch.tensor(ids, dtype=torch.long)

    @property
    def train(self) -> torch.Tensor:
        return self.splits["train"]

    @property
    def valid(self) -> torch.Tensor:
        return self.splits["valid"]

    @property
    def test(self) -> torch.Tensor:
        return self.splits["test"]


def batchify(data: torch.Tensor, batch_size: int) -> torch.Tensor:
    """``[N]`` -> ``[N // batch_size, batch_size]``, each column a contiguous stream."""
    n = data.size(0) // batch_size
    return data[: n * batch_size].view(batch_size, n).t().contiguous()


def get_batch(source: torch.Tensor, i: int, bptt: int) -> tuple[torch.Tensor, torch.Tensor]:
    seq_len = min(bptt, source.size(0) - 1 - i)
    return source[i : i + seq_len], source[i + 1 : i + 1 + seq_len]
