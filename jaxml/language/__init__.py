"""Emergent-language metrics: pure functions over (meaning, message, outcome) records.

"From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (Piriyajitakonkij et al.
2025, arXiv 2505.12872) asks whether a population's language is compositional, displaced,
interchangeable, arbitrary and culturally transmitted; each question is one function here,
checked against a slow reference (``tests/language``). Definitions, conventions and timings:
docs/language.md.

- compositionality: ``topographic_similarity`` (jittable), ``positional_disentanglement``,
  ``bag_of_symbols_disentanglement`` (Chaabouni et al. 2020, arXiv 2004.09124);
- interchangeability and arbitrariness: ``language_similarity`` and its matrix and chance level,
  ``cross_play_matrix`` / ``cross_play_summary``;
- displacement: ``displacement_probe`` (multinomial logistic regression against chance);
- cultural transmission: ``steps_to_threshold`` on learning curves.
"""

from jaxml.language._crossplay import CrossPlaySummary as CrossPlaySummary
from jaxml.language._crossplay import cross_play_matrix as cross_play_matrix
from jaxml.language._crossplay import cross_play_summary as cross_play_summary
from jaxml.language._disentanglement import (
    bag_of_symbols_disentanglement as bag_of_symbols_disentanglement,
)
from jaxml.language._disentanglement import information_gap as information_gap
from jaxml.language._disentanglement import positional_disentanglement as positional_disentanglement
from jaxml.language._disentanglement import symbol_counts as symbol_counts
from jaxml.language._probe import ProbeResult as ProbeResult
from jaxml.language._probe import displacement_probe as displacement_probe
from jaxml.language._probe import linear_probe as linear_probe
from jaxml.language._probe import message_features as message_features
from jaxml.language._probe import score_bin as score_bin
from jaxml.language._records import LanguageRecords as LanguageRecords
from jaxml.language._records import pad_messages as pad_messages
from jaxml.language._similarity import language_similarity as language_similarity
from jaxml.language._similarity import language_similarity_chance as language_similarity_chance
from jaxml.language._similarity import language_similarity_matrix as language_similarity_matrix
from jaxml.language._topsim import edit_distance as edit_distance
from jaxml.language._topsim import spearman_from_table as spearman_from_table
from jaxml.language._topsim import topographic_similarity as topographic_similarity
from jaxml.language._transmission import steps_to_threshold as steps_to_threshold

__all__ = [
    "CrossPlaySummary",
    "LanguageRecords",
    "ProbeResult",
    "bag_of_symbols_disentanglement",
    "cross_play_matrix",
    "cross_play_summary",
    "displacement_probe",
    "edit_distance",
    "information_gap",
    "language_similarity",
    "language_similarity_chance",
    "language_similarity_matrix",
    "linear_probe",
    "message_features",
    "pad_messages",
    "positional_disentanglement",
    "score_bin",
    "spearman_from_table",
    "steps_to_threshold",
    "symbol_counts",
    "topographic_similarity",
]

# Trained agents to records: play a Foraging Game, keep the speaker's meaning and tokens.
from jaxml.language._collect import collect_language as collect_language  # noqa: E402
from jaxml.language._collect import load_records as load_records  # noqa: E402
from jaxml.language._collect import save_records as save_records  # noqa: E402

__all__ += ["collect_language", "load_records", "save_records"]
