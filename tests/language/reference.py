"""Slow references for the language metrics: plain Python loops, numpy and scipy, written from the
definitions (no vectorisation shared with jaxml.language)."""

from __future__ import annotations

import itertools
import math
from collections import Counter

import numpy as np
import scipy.stats


def edit_distance(a, b) -> int:
    """Levenshtein distance by the textbook full-table dynamic programme."""
    a, b = list(a), list(b)
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        table[i][0] = i
    for j in range(len(b) + 1):
        table[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i][j] = min(
                table[i - 1][j] + 1,
                table[i][j - 1] + 1,
                table[i - 1][j - 1] + (a[i - 1] != b[j - 1]),
            )
    return table[len(a)][len(b)]


def topographic_similarity(meanings, messages) -> float:
    """scipy's Spearman over all pairs; nan when a distance vector is constant (as scipy says)."""
    meanings, messages = np.asarray(meanings), np.asarray(messages)
    length = messages.shape[1]
    d_meaning, d_message = [], []
    for i, j in itertools.combinations(range(len(meanings)), 2):
        d_meaning.append(int(np.sum(meanings[i] != meanings[j])))
        d_message.append(edit_distance(messages[i], messages[j]) / length)
    if len(set(d_meaning)) < 2 or len(set(d_message)) < 2:
        return float("nan")
    return float(scipy.stats.spearmanr(d_meaning, d_message).statistic)


def entropy(values) -> float:
    counts = Counter(values)
    n = len(values)
    return -sum(c / n * math.log(c / n) for c in counts.values())


def mutual_information(x, y) -> float:
    return entropy(list(x)) + entropy(list(y)) - entropy(list(zip(x, y, strict=True)))


def information_gap(meanings, slots) -> float:
    """Chaabouni et al. 2020's gap score, slot by slot in a Python loop; 0 if every slot is
    constant."""
    meanings, slots = np.asarray(meanings).tolist(), np.asarray(slots).tolist()
    num_attributes, num_slots = len(meanings[0]), len(slots[0])
    gaps = []
    for r in range(num_slots):
        slot = [row[r] for row in slots]
        h = entropy(slot)
        if h <= 0.0:
            continue
        mi = sorted(
            (mutual_information([row[m] for row in meanings], slot) for m in range(num_attributes)),
            reverse=True,
        )
        gaps.append((mi[0] - mi[1]) / h)
    return sum(gaps) / len(gaps) if gaps else 0.0


def positional_disentanglement(meanings, messages) -> float:
    return information_gap(meanings, messages)


def bag_of_symbols_disentanglement(meanings, messages, vocab_size, exclude=()) -> float:
    counts = [
        [list(row).count(v) for v in range(vocab_size) if v not in exclude]
        for row in np.asarray(messages).tolist()
    ]
    return information_gap(meanings, counts)


def language_similarity(a, b) -> float:
    a, b = np.asarray(a).tolist(), np.asarray(b).tolist()
    per_episode = []
    for x, y in zip(a, b, strict=True):
        hamming = sum(p != q for p, q in zip(x, y, strict=True))
        per_episode.append(1.0 - hamming / len(x))
    return sum(per_episode) / len(per_episode)


def language_similarity_all_pairings(a, b) -> float:
    """Mean LS over every (episode of a, episode of b) pairing: the chance level by brute force."""
    a, b = np.asarray(a), np.asarray(b)
    return float(np.mean([language_similarity([x], [y]) for x in a for y in b]))
