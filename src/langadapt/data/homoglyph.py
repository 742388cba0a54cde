"""Homoglyph repair: look-alike letters typed inside words of the profile's alphabet.

A word (a run of letters) is repaired only when (1) it holds at least one letter of
the alphabet and (2) every letter is in the alphabet after mapping. So `Улаанбаатaр`
(Latin `a`) becomes all-Cyrillic, `Өмнөгoвь` too, while `Google`, `COVID` and the
Kazakh `қала` (қ is not Mongolian) stay untouched. Case is preserved because the
map is letter to letter. A look-alike with several candidates (Latin `Y` for `Ү`
or `У`) takes the candidate in the same harmony group as the word's other vowels.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W\d_]+")


class HomoglyphRepair:
    """Callable `text -> (text, n_chars_changed)` for one profile's alphabet and map."""

    def __init__(self, alphabet: str, homoglyphs: dict[str, str], harmony: list[str] | None = None):
        self.alphabet = frozenset(alphabet)
        self.table = {ord(k): v[0] for k, v in homoglyphs.items()}
        self.choices = {k: v for k, v in homoglyphs.items() if len(v) > 1}
        self.groups = [frozenset(g) for g in harmony or []]
        self.suspects = frozenset(homoglyphs)
        # cheap pre-check: most documents hold no look-alike at all
        self._any = re.compile("[" + re.escape("".join(homoglyphs)) + "]") if homoglyphs else None

    def _choose(self, word: str, fixed: str) -> str:
        votes = [sum(c in g for c in fixed) for g in self.groups]
        chars = list(fixed)
        for i, c in enumerate(word):
            if c in self.choices:
                cands = self.choices[c]
                # votes minus this letter's own default, so it does not vote for itself
                own = [v - (cands[0] in g) for v, g in zip(votes, self.groups)]
                best = max(range(len(own)), key=lambda j: own[j]) if any(own) else None
                if best is not None:
                    chars[i] = next((x for x in cands if x in self.groups[best]), cands[0])
        return "".join(chars)

    def _fix_word(self, m: re.Match) -> str:
        word = m.group(0)
        if not any(c in self.suspects for c in word) or not any(c in self.alphabet for c in word):
            return word
        fixed = word.translate(self.table)
        if not all(c in self.alphabet for c in fixed):
            return word
        if self.choices and self.groups and any(c in self.choices for c in word):
            fixed = self._choose(word, fixed)
        self._changed += sum(a != b for a, b in zip(word, fixed))
        return fixed

    def __call__(self, text: str) -> tuple[str, int]:
        if self._any is None or not self._any.search(text):
            return text, 0
        self._changed = 0
        out = _WORD.sub(self._fix_word, text)
        return out, self._changed
