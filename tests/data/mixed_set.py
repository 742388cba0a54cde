"""Build the mixed precision/recall test set from clean Mongolian lines.

`build(mn_lines, foreign, eval_lines, folder)` writes input files and returns the
truth: {(file, line): (category, expected_clean_text)}. Categories and the outcome
the pipeline must give them:

    clean        kept, text unchanged (up to whitespace)
    html         Mongolian wrapped in markup: kept, equal to the original line
    homoglyph    1-3 letters swapped for look-alikes: kept, equal to the original
    cp1251       a cp1251 file (and a KOI8-R one): kept, equal to the original
    foreign      Russian, Kazakh, Kyrgyz, English lines: dropped for language
    near_dup     an edited copy of a clean line: one of each pair dropped as duplicate
    contaminated an evaluation sentence (quotes/spacing changed for half): dropped

The builder takes any Mongolian lines, so the same check runs on held-out text.
Lines that the source itself repeats with small changes (song lyrics, formulaic verses)
are left out of the sample: their true outcome would be "duplicate", not "clean"
(`near_twins`: an exact character 4-gram Jaccard test among the sampled lines,
independent of the pipeline).
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from pathlib import Path

LOOKALIKE = {
    "а": "a",
    "е": "e",
    "о": "o",
    "р": "p",
    "с": "c",
    "х": "x",
    "у": "y",
    "к": "k",
    "А": "A",
    "В": "B",
    "Е": "E",
    "К": "K",
    "М": "M",
    "Н": "H",
    "О": "O",
    "Р": "P",
    "С": "C",
    "Т": "T",
    "Х": "X",
    "У": "Y",
    "Ү": "Y",
    "ү": "ü",
    "Ө": "Ö",
    "ө": "ö",
}
ALT = {"ө": ["ö", "ɵ", "ѳ"], "ү": ["ü", "y", "ұ"]}
WS = re.compile(r"\s+")


def norm_ws(text: str) -> str:
    return WS.sub(" ", text).strip()


def corrupt(line: str, rng: random.Random) -> str:
    """Swap 1-3 letters of words of 3+ letters for look-alikes."""
    spots = [
        m.start() + i
        for m in re.finditer(r"[^\W\d_]{3,}", line)
        for i, c in enumerate(m.group(0))
        if c in LOOKALIKE
    ]
    chars = list(line)
    for i in rng.sample(spots, min(len(spots), rng.randint(1, 3))):
        c = chars[i]
        chars[i] = rng.choice(ALT[c]) if c in ALT else LOOKALIKE[c]
    return "".join(chars)


def wrap_html(line: str, rng: random.Random) -> str:
    words = line.split(" ")
    k = rng.randrange(len(words))
    words[k] = f"<b>{words[k]}</b>"
    body = " ".join(words).replace('"', "&quot;", 1)
    return rng.choice(
        ["<p>{}</p>", '<div class="news"><span>{}</span></div>', "{}<br/>", '<li><a href="/x">{}</a></li>']
    ).format(body)


def edit(line: str, rng: random.Random) -> str:
    """A small edit: drop a word, change punctuation, or a one-letter typo."""
    words = line.split(" ")
    how = rng.randrange(3)
    if how == 0 and len(words) > 6:
        del words[rng.randrange(1, len(words) - 1)]
        return " ".join(words)
    if how == 1:
        return line.rstrip(".!?") + ("!" if line.endswith(".") else ".")
    k = max(range(len(words)), key=lambda i: len(words[i]))
    w = words[k]
    words[k] = w[:-2] + w[-1] + w[-2] if len(w) > 3 else w + "н"
    return " ".join(words)


def _grams(text: str, n: int = 4) -> set[str]:
    s = " " + " ".join(re.findall(r"\w+", text.casefold())) + " "
    return {s[i : i + n] for i in range(max(1, len(s) - n + 1))}


def near_twins(lines: list[str], threshold: float = 0.5) -> set[str]:
    """The lines that have another of `lines` at character 4-gram Jaccard >= threshold."""
    grams = [_grams(x) for x in lines]
    index: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(grams):
        for q in g:
            index[q].append(i)
    out = set()
    for i, g in enumerate(grams):
        shared = Counter(j for q in g for j in index[q] if j != i)
        if any(c / len(g | grams[j]) >= threshold for j, c in shared.items() if c >= threshold * len(g)):
            out.add(lines[i])
    return out


def _encodable(text: str) -> bool:
    """Lines cp1251 and KOI8-R can hold (no ө/ү, no typographic dashes)."""
    try:
        text.encode("cp1251"), text.encode("koi8_r")
        return True
    except UnicodeEncodeError:
        return False


def build(
    mn_lines: list[str], foreign: list[tuple[str, str]], eval_lines: list[str], folder: Path, seed: int = 0
) -> dict:
    rng = random.Random(seed)
    pool = list(dict.fromkeys(norm_ws(x) for x in mn_lines if 40 <= len(x) <= 250))
    rng.shuffle(pool)
    while True:  # sample lines, leaving out pairs the source itself repeats with small changes
        legacy = [x for x in pool if _encodable(x)][:40]
        rest = [x for x in pool if x not in set(legacy)]
        twins = near_twins(legacy + rest[:390])
        if not twins:
            break
        pool = [x for x in pool if x not in twins]
    clean, html, homo, dup = rest[:200], rest[200:250], rest[250:350], rest[350:390]
    evals = rng.sample([norm_ws(x) for x in eval_lines if len(x.split()) >= 6], 40)
    main: list[tuple[str, str, str]] = []  # (text written, category, expected)
    main += [(x, "clean", x) for x in clean]
    main += [(wrap_html(x, rng), "html", x) for x in html]
    main += [(corrupt(x, rng), "homoglyph", x) for x in homo]
    main += [(text, "foreign", "") for lang, text in foreign if lang != "bxr_Cyrl"]
    main += [(x, "near_dup", x) for x in dup] + [(edit(x, rng), "near_dup", x) for x in dup]
    main += [
        (x.replace('"', "«", 1).replace("  ", " ") if i % 2 else x, "contaminated", "")
        for i, x in enumerate(evals)
    ]
    rng.shuffle(main)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "mixed.txt").write_text("".join(t + "\n" for t, _, _ in main), encoding="utf-8")
    (folder / "legacy.cp1251.txt").write_bytes("".join(x + "\r\n" for x in legacy[:20]).encode("cp1251"))
    (folder / "legacy.koi8r.txt").write_bytes("".join(x + "\n" for x in legacy[20:]).encode("koi8_r"))
    truth = {("mixed.txt", i): (cat, exp) for i, (_, cat, exp) in enumerate(main, 1)}
    truth.update({("legacy.cp1251.txt", i): ("cp1251", x) for i, x in enumerate(legacy[:20], 1)})
    truth.update({("legacy.koi8r.txt", i): ("cp1251", x) for i, x in enumerate(legacy[20:], 1)})
    return truth
