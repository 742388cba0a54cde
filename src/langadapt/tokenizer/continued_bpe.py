"""Continued BPE: learn new merges on top of an existing BPE tokenizer's merges.

Written by hand because `tokenizers` can train BPE only from scratch. The learner
starts every word type from its encoding under the base tokenizer (the fixed point of
the base merges), then learns merges as BPE training does: the most frequent adjacent
pair is merged, pair counts are updated incrementally for the words that contain it
(a heap with lazy deletion finds the next best pair). New merges rank after all old
ones, and a new token never appears in an old merge, so encoding with the extended
tokenizer is "base encoding, then the new merges in order" — exactly what is learned.

A pair becomes a new token only if its string, encoded on its own, reaches it through
the merges learned so far (so the new token is reachable from its own text) and its
bytes are valid text; otherwise the pair is skipped.
"""

from __future__ import annotations

import heapq
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tqdm.auto import tqdm

log = logging.getLogger(__name__)


@dataclass
class NewMerge:
    """One learned merge: `left + right -> token` with the new id and the corpus count."""

    left: str
    right: str
    token: str
    id: int
    count: int


def count_words(texts: Iterable[str], split: Callable[[str], list[str]]) -> Counter:
    """Word-type counts of a corpus, split as the base tokenizer pre-tokenizes."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(split(text))
    return counts


class ContinuedBPE:
    """Learn merges after a base tokenizer's merges.

    Args:
        base_tokenize: vocab string of one word -> base token ids (the base BPE model).
        id_to_token: base id -> vocab string (every id `base_tokenize` can return).
        next_id: first free id for new tokens (after every base and added token).
        accept: vocab string -> whether it may become a token (valid text, one pre-token).
        mergeable: vocab string -> whether a token may take part in a merge (not byte fallback).
    """

    def __init__(self, base_tokenize: Callable[[str], list[int]], id_to_token: dict[int, str],
                 next_id: int, accept: Callable[[str], bool],
                 mergeable: Callable[[str], bool] = lambda t: True):
        self.base_tokenize = base_tokenize
        self.tokens = dict(id_to_token)
        self.known = set(id_to_token.values())
        self.next_id = next_id
        self.accept = accept
        self.mergeable = mergeable
        self.ranks: dict[tuple[int, int], tuple[int, int]] = {}   # pair -> (rank, new id)
        self.skipped = 0

    # ------------------------------------------------------------------ encoding with new merges
    def apply_new(self, ids: list[int]) -> list[int]:
        """Apply the new merges (lowest rank first, leftmost first), as BPE encoding does."""
        ids = list(ids)
        while len(ids) > 1:
            best = None
            for i in range(len(ids) - 1):
                r = self.ranks.get((ids[i], ids[i + 1]))
                if r is not None and (best is None or r[0] < best[0]):
                    best = (r[0], r[1], i)
            if best is None:
                break
            _, new, i = best
            ids[i:i + 2] = [new]
        return ids

    def encode_word(self, word: str) -> list[int]:
        return self.apply_new(self.base_tokenize(word))

    def _reachable(self, a: int, b: int, token: str) -> bool:
        return self.accept(token) and self.encode_word(token) == [a, b]

    # ------------------------------------------------------------------ learning
    def learn(self, word_counts: dict[str, int], n: int, min_count: int = 2,
              progress: bool = True) -> list[NewMerge]:
        """Learn up to `n` merges from word-type counts; stops early when pairs get rarer than `min_count`."""
        words = [self.base_tokenize(w) for w in word_counts]
        freqs = list(word_counts.values())
        pair_counts: dict[tuple[int, int], int] = defaultdict(int)
        where: dict[tuple[int, int], set[int]] = defaultdict(set)
        self._blocked = {i for i, t in self.tokens.items() if not self.mergeable(t)}
        banned: set[tuple[int, int]] = set()
        for wi, w in enumerate(words):
            for p in zip(w, w[1:]):
                if self._can_pair(p):
                    pair_counts[p] += freqs[wi]
                    where[p].add(wi)
        heap = [(-c, p) for p, c in pair_counts.items()]
        heapq.heapify(heap)
        merges: list[NewMerge] = []
        bar = tqdm(total=n, desc="learning merges", unit="merge", disable=not progress)
        while len(merges) < n and heap:
            negc, pair = heapq.heappop(heap)
            count = pair_counts.get(pair, 0)
            if count != -negc or pair in banned:
                continue  # stale entry: a fresher one was pushed when the count changed
            if count < min_count:
                break
            a, b = pair
            token = self.tokens[a] + self.tokens[b]
            if token in self.known or not self._reachable(a, b, token):
                self.skipped += 1
                banned.add(pair)
                continue
            new = self.next_id
            self.next_id += 1
            self.tokens[new] = token
            self.known.add(token)
            self.ranks[pair] = (len(merges), new)
            merges.append(NewMerge(self.tokens[a], self.tokens[b], token, new, count))
            changed = self._merge_everywhere(pair, new, words, freqs, pair_counts, where)
            for p in changed:
                c = pair_counts.get(p, 0)
                if c > 0:
                    heapq.heappush(heap, (-c, p))
            bar.update(1)
        bar.close()
        log.info("learned %d merges (%d pairs skipped as unreachable or existing)", len(merges),
                 self.skipped)
        return merges

    def _can_pair(self, p: tuple[int, int]) -> bool:
        return p[0] not in self._blocked and p[1] not in self._blocked

    def _merge_everywhere(self, pair, new, words, freqs, pair_counts, where) -> set:
        """Replace `pair` by `new` in every word holding it; update counts; return changed pairs."""
        a, b = pair
        changed: set = set()
        for wi in where.pop(pair, ()):
            w, f = words[wi], freqs[wi]
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and w[i] == a and w[i + 1] == b:
                    out.append(new)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            old_pairs = Counter(zip(w, w[1:]))
            new_pairs = Counter(zip(out, out[1:]))
            for p, k in (old_pairs - new_pairs).items():
                if self._can_pair(p):
                    pair_counts[p] -= k * f
                    changed.add(p)
                    if p not in new_pairs:
                        where[p].discard(wi)
            for p, k in (new_pairs - old_pairs).items():
                if self._can_pair(p):
                    pair_counts[p] += k * f
                    where[p].add(wi)
                    changed.add(p)
            words[wi] = out
        pair_counts.pop(pair, None)
        return changed
