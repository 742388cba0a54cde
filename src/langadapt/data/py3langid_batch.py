"""py3langid's classifier over many texts at once, with numpy.

py3langid classifies one text at a time: a Python loop walks its byte DFA and
a small matrix product scores the features (~150 µs for a news sentence, the
largest cost of `data clean`). It has no batch API, so this module writes one by
hand on top of py3langid's own model arrays (no model of our own):

1. texts are encoded exactly as `LanguageIdentifier._encode` does and sorted by
   length; groups of similar length walk the DFA in lockstep, one numpy step per
   byte position for the whole group;
2. feature counts per (text, feature) go into a small dense matrix over the
   features that occur in the group, `log1p`-ed and multiplied by those rows of
   the model (one BLAS product per group);
3. length temperature, softmax and label aliases as in `_decide`.

Labels equal py3langid's and probabilities agree to ~1e-5 (float summation
order differs); `tests/data/test_langid_batch.py` checks both. Texts in groups
too small for lockstep to pay (very long documents) go through py3langid itself.
"""

from __future__ import annotations

import math

import numpy as np

LOCKSTEP_MIN = 16  # fewer texts than this in a length group: py3langid's own loop is faster
GROUP_BYTES = 1 << 22  # padded bytes walked per group (bounds the feature matrix: 16 MB)
SCORE_GROUP = 64  # texts per scoring product


class BatchClassifier:
    """`classify_many(texts)` -> [(label, probability)] for a py3langid `LanguageIdentifier`
    loaded with `norm_probs=True`."""

    def __init__(self, ident):
        if not getattr(ident, "_norm_probs", False):
            raise ValueError("BatchClassifier needs an identifier loaded with norm_probs=True")
        self.ident = ident
        self.nextmove = np.asarray(ident.tk_nextmove)  # a view of py3langid's array, no copy
        self.rowbase = np.asarray(ident._rowbase, dtype=np.int64)
        self.output = np.asarray(ident.tk_output, dtype=np.int32)
        n_features = ident.nb_ptc.shape[0]
        # scratch buffers of the scoring step, reused (cleared after each use) rather than
        # allocated per group of texts
        self._seen = np.zeros(n_features, dtype=bool)
        self._local = np.empty(n_features, dtype=np.int64)

    def classify_many(self, texts: list[str]) -> list[tuple[str, float]]:
        ident = self.ident
        encoded = [ident._encode(t) for t in texts]
        lengths = np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded))
        order = np.argsort(lengths, kind="stable")
        scores = np.zeros((len(encoded), len(ident.nb_pc)), dtype=np.float32)
        done = np.zeros(len(encoded), dtype=bool)
        for group in self._groups(order, lengths):
            if len(group) < LOCKSTEP_MIN:
                continue
            self._score_group(group, encoded, lengths, scores)
            done[group] = True
        probs = self._normalise(scores, lengths)
        best = probs.argmax(axis=1)
        out = []
        for i, k in enumerate(best):
            if done[i]:
                out.append((ident.nb_classes[k], float(probs[i, k])))
            else:
                label, prob = ident.classify(texts[i])
                out.append((label, float(prob)))
        return out

    @staticmethod
    def _groups(order: np.ndarray, lengths: np.ndarray):
        start = 0
        while start < len(order):
            end = start + 1
            # grow while the padded block (texts x longest) stays within the budget
            while end < len(order) and (end + 1 - start) * max(1, lengths[order[end]]) <= GROUP_BYTES:
                end += 1
            yield order[start:end]
            start = end

    def _walk(self, group: np.ndarray, encoded: list[bytes], lengths: np.ndarray) -> np.ndarray:
        """Feature index per (byte position, text) of the group, -1 where none."""
        lens = lengths[group]
        width = int(lens[-1])
        block = b"".join(encoded[i].ljust(width, b"\0") for i in group)
        data = np.frombuffer(block, dtype=np.uint8).reshape(len(group), width).T.copy()
        first_active = np.searchsorted(lens, np.arange(width), side="right")  # sorted: actives are a suffix
        state = np.zeros(len(group), dtype=np.int64)
        feats = np.full((width, len(group)), -1, dtype=np.int32)
        nextmove, rowbase, output = self.nextmove, self.rowbase, self.output
        for t in range(width):
            s = first_active[t]
            st = nextmove[rowbase[state[s:]] + data[t, s:]]
            state[s:] = st
            feats[t, s:] = output[st]
        return feats

    def _score_group(self, group, encoded, lengths, scores) -> None:
        feats = self._walk(group, encoded, lengths)
        ptc, pc, seen, local = self.ident.nb_ptc, self.ident.nb_pc, self._seen, self._local
        for lo in range(0, len(group), SCORE_GROUP):
            sub = feats[:, lo : lo + SCORE_GROUP]
            pos, doc = np.nonzero(sub >= 0)
            if not len(doc):
                continue  # no features at all: zeros, i.e. uniform after softmax (as py3langid)
            f = sub[pos, doc]
            seen[f] = True
            used = np.flatnonzero(seen)
            seen[used] = False
            local[used] = np.arange(len(used))
            rows = sub.shape[1]
            counts = np.bincount(doc * len(used) + local[f], minlength=rows * len(used))
            weights = np.log1p(counts.astype(np.float32)).reshape(rows, len(used))
            block = weights @ ptc[used].astype(np.float32) + pc
            has = np.bincount(doc, minlength=rows) > 0
            target = group[lo : lo + rows]
            scores[target[has]] = block[has]

    def _normalise(self, scores: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        temp = np.array([1.0 / math.sqrt(n or 1) for n in lengths.tolist()], dtype=np.float32)
        scores *= temp[:, None]
        scores -= scores.max(axis=1, keepdims=True)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        for i, j in self.ident._alias_pairs:
            scores[:, i] += scores[:, j]
            scores[:, j] = 0.0
        return scores
