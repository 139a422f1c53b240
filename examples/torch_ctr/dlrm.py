"""dlrm.py — a DLRM-style click-through model (Naumov et al., 2019).

A bottom MLP turns the dense features into one vector of the embedding
dimension; each categorical table is an EmbeddingBag (sum of the bag's
rows); every pair of these vectors interacts through a dot product, and a
top MLP maps the bottom vector and the interactions to one logit.  The
tables hold almost all the parameters: `rows` is what makes the model
large.  Initialisation uses only torch's global generator, so a fixed seed
gives the same model on every rank and in every run.
"""

import torch
from torch import nn


def mlp(sizes, last_relu):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_relu:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    def __init__(self, tables, rows, dim, dense, bottom=(32,), top=(64, 32)):
        super().__init__()
        self.emb = nn.ModuleList(nn.EmbeddingBag(rows, dim, mode="sum")
                                 for _ in range(tables))
        bound = rows ** -0.5  # DLRM's uniform(-1/sqrt(n), 1/sqrt(n))
        for e in self.emb:
            nn.init.uniform_(e.weight, -bound, bound)
        self.bottom = mlp([dense, *bottom, dim], last_relu=True)
        n = tables + 1
        self.register_buffer("iu", torch.triu_indices(n, n, 1), persistent=False)
        self.top = mlp([dim + n * (n - 1) // 2, *top, 1], last_relu=False)

    def forward(self, dense, ids):
        """dense: [B, dense] float; ids: one [B, bag] int64 per table.
        Returns [B] logits."""
        x = self.bottom(dense)
        z = torch.stack([x] + [e(i) for e, i in zip(self.emb, ids)], 1)
        inter = torch.bmm(z, z.transpose(1, 2))[:, self.iu[0], self.iu[1]]
        return self.top(torch.cat([x, inter], 1)).squeeze(1)
