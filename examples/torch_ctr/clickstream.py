"""clickstream.py — a deterministic synthetic click stream for torch_ctr.

Every sample has a few dense features and, per categorical table, a bag of
hashed ids drawn with power-law (Zipf) frequencies, the way real click
logs look: a few ids are everywhere, most are rare.  Its label comes from a
hidden ground-truth model (a bias per raw id, a linear term on the dense
features and low-rank pairwise interactions between the tables), through a
Bernoulli draw, so even a perfect model has an AUC below 1; `oracle_auc`
reports what the hidden model itself scores on the same held-out data.

Nothing here depends on the process: global batch `step` is generated from
a generator seeded with (seed, step) alone, and rank r of a world of w
reads its contiguous slice of it.  The data order is therefore a pure
function of (step, rank, world): a run restarted from a checkpoint sees
exactly the batches it would have seen, and a run whose world changed
re-shards the same global stream.
"""

import torch

HASH_MULT = 2654435761      # Knuth's multiplicative hash: raw id -> hashed id
HASH_SPACE = 1 << 31
TRAIN, EVAL, TRUTH = 1, 2, 3  # generator streams: training, held-out, hidden model


def _seed(seed, stream, index):
    """A 63-bit seed for (seed, stream, index), distinct for every triple."""
    return (seed * 1_000_003 + stream * 7_919 + index * 104_729) % (1 << 63)


def shard(n, rank, world):
    """[lo, hi) of rank's contiguous slice of n items."""
    return n * rank // world, n * (rank + 1) // world


class ClickStream:
    """The stream's shape and its hidden model.

    tables: categorical features; rows: hash buckets per table (the model's
    embedding rows); vocab: distinct raw ids per table; bags: ids per sample
    for each table (multi-hot); dense: dense features; alpha: Zipf exponent.
    """

    def __init__(self, seed=1, tables=4, rows=20000, vocab=50000, dense=4,
                 bags=None, alpha=1.05, rank=4):
        if tables < 1 or rows < 1 or vocab < 1 or dense < 1:
            raise ValueError("tables, rows, vocab and dense must be >= 1")
        self.seed, self.tables, self.rows = seed, tables, rows
        self.vocab, self.dense = vocab, dense
        self.bags = list(bags) if bags else [1 + t % 2 for t in range(tables)]
        if len(self.bags) != tables or min(self.bags) < 1:
            raise ValueError("need one bag size >= 1 per table")
        g = torch.Generator().manual_seed(_seed(seed, TRUTH, 0))
        p = torch.arange(1, vocab + 1, dtype=torch.float64) ** -alpha
        self.cdf = torch.cumsum(p / p.sum(), 0)
        self.cdf[-1] = 1.0
        # The hidden model: per-table per-raw-id biases, dense weights and
        # rank-`rank` factors whose dot products make table pairs interact.
        self.bias = torch.randn(tables, vocab, generator=g, dtype=torch.float64) * 0.8
        self.wdense = torch.randn(dense, generator=g, dtype=torch.float64) * 0.5
        self.factors = torch.randn(tables, vocab, rank, generator=g,
                                   dtype=torch.float64) * (0.6 / rank ** 0.5)
        self.offset = -1.0  # clicks are the minority class

    def _draw(self, g, n):
        """n samples: (dense [n,dense] float32, ids [list of [n,bag] int64],
        labels [n] float32, truth logits [n] float64)."""
        x = torch.randn(n, self.dense, generator=g, dtype=torch.float64)
        logit = x @ self.wdense + self.offset
        ids, fac = [], []
        for t, bag in enumerate(self.bags):
            u = torch.rand(n * bag, generator=g, dtype=torch.float64)
            raw = torch.searchsorted(self.cdf, u).clamp_(max=self.vocab - 1)
            raw = raw.view(n, bag)
            logit += self.bias[t][raw].mean(1)
            fac.append(self.factors[t][raw].mean(1))
            hashed = (raw * HASH_MULT + t * 97 + 13) % HASH_SPACE
            ids.append(hashed % self.rows)
        for a in range(self.tables):
            for b in range(a + 1, self.tables):
                logit += (fac[a] * fac[b]).sum(1)
        u = torch.rand(n, generator=g, dtype=torch.float64)
        y = (u < torch.sigmoid(logit)).to(torch.float32)
        return x.to(torch.float32), ids, y, logit

    def batch(self, step, global_batch, rank=0, world=1):
        """Rank's slice of global batch `step`: (dense, ids, labels)."""
        g = torch.Generator().manual_seed(_seed(self.seed, TRAIN, step))
        x, ids, y, _ = self._draw(g, global_batch)
        lo, hi = shard(global_batch, rank, world)
        return x[lo:hi], [i[lo:hi] for i in ids], y[lo:hi]

    def heldout(self, n):
        """n held-out samples (never seen in training): (dense, ids,
        labels, truth logits)."""
        g = torch.Generator().manual_seed(_seed(self.seed, EVAL, 0))
        return self._draw(g, n)
