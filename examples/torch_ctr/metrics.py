"""metrics.py — ROC AUC and a state-dict fingerprint.

AUC is the Mann-Whitney statistic (ties share their average rank), exact and
in torch alone.  `fingerprint` is a SHA-256 over a state dict's names,
dtypes, shapes and bytes in key order: two runs end "bit-identical" exactly
when their fingerprints are equal.
"""

import hashlib

import torch


def auc(scores, labels):
    """ROC AUC of scores against 0/1 labels (0.5 if one class is absent)."""
    scores = scores.detach().to(torch.float64).flatten()
    labels = labels.detach().flatten() > 0.5
    npos = int(labels.sum())
    nneg = labels.numel() - npos
    if npos == 0 or nneg == 0:
        return 0.5
    order = torch.argsort(scores)
    s = scores[order]
    ranks = torch.empty_like(s)
    ranks[order] = torch.arange(1, s.numel() + 1, dtype=torch.float64)
    # average the ranks of tied scores
    uniq, inverse, counts = torch.unique(s, return_inverse=True, return_counts=True)
    if uniq.numel() != s.numel():
        sums = torch.zeros(uniq.numel(), dtype=torch.float64)
        sums.index_add_(0, inverse, torch.arange(1, s.numel() + 1, dtype=torch.float64))
        ranks[order] = (sums / counts)[inverse]
    rpos = ranks[labels].sum().item()
    return (rpos - npos * (npos + 1) / 2) / (npos * nneg)


def fingerprint(state):
    """SHA-256 hex digest of a (possibly nested) state dict's tensors."""
    h = hashlib.sha256()

    def feed(prefix, obj):
        if isinstance(obj, dict):
            for k in sorted(obj, key=str):
                feed("%s.%s" % (prefix, k), obj[k])
        elif isinstance(obj, (list, tuple)):
            for i, v in enumerate(obj):
                feed("%s[%d]" % (prefix, i), v)
        elif torch.is_tensor(obj):
            t = obj.detach().cpu().contiguous()
            h.update(("%s %s %s\n" % (prefix, t.dtype, tuple(t.shape))).encode())
            h.update(t.numpy().tobytes() if t.numel() else b"")
        else:
            h.update(("%s %r\n" % (prefix, obj)).encode())

    feed("", state)
    return h.hexdigest()
