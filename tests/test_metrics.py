"""Tests for recommender.evaluation.metrics against values worked out by hand.

Handy constants used in the comments below:
    log2(2) = 1, log2(3) = 1.5849625, log2(4) = 2, log2(6) = 2.5849625
    1/log2(3) = 0.6309298, 1/log2(6) = 0.3868528
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender.evaluation.metrics import (
    catalogue_coverage,
    impression_auc,
    impression_mrr,
    impression_ndcg,
    intra_list_diversity,
    mean_of,
    ndcg_at_k,
    novelty,
    precision_at_k,
    recall_at_k,
    reciprocal_rank,
)

# --------------------------------------------------------------------------
# recall / precision
# --------------------------------------------------------------------------


def test_recall_and_precision_with_fewer_than_k_items() -> None:
    ranked = ["a", "b"]
    relevant = {"a", "c", "d"}
    # top 5 holds only a, b; hit = a -> 1 of 3 relevant
    assert recall_at_k(ranked, relevant, 5) == pytest.approx(1 / 3)
    # 1 hit divided by k = 5 (not by the 2 ranked items) -> 0.2
    assert precision_at_k(ranked, relevant, 5) == pytest.approx(0.2)


def test_recall_and_precision_respect_the_cutoff() -> None:
    ranked = ["a", "b", "c", "d"]
    relevant = {"c", "d"}
    # top 2 = a, b -> 0 hits -> 0/2
    assert recall_at_k(ranked, relevant, 2) == pytest.approx(0.0)
    # top 3 = a, b, c -> hit c -> 1/2
    assert recall_at_k(ranked, relevant, 3) == pytest.approx(0.5)
    # top 3 -> 1 hit / 3
    assert precision_at_k(ranked, relevant, 3) == pytest.approx(1 / 3)
    # top 4 -> 2 hits / 4
    assert precision_at_k(ranked, relevant, 4) == pytest.approx(0.5)


def test_recall_with_no_relevant_items_is_zero() -> None:
    assert recall_at_k(["a", "b"], set(), 2) == 0.0


def test_duplicate_ranked_items_count_once() -> None:
    # a appears twice in the top 2 but is one relevant item:
    # recall = 1/1, precision = 1 hit / 2
    assert recall_at_k(["a", "a", "b"], {"a"}, 2) == pytest.approx(1.0)
    assert precision_at_k(["a", "a", "b"], {"a"}, 2) == pytest.approx(0.5)
    # nDCG: DCG = 1/log2(2) = 1 (the repeat earns nothing), IDCG = 1 -> 1.0
    assert ndcg_at_k(["a", "a"], {"a"}, 2) == pytest.approx(1.0)


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError):
        recall_at_k(["a"], {"a"}, 0)
    with pytest.raises(ValueError):
        precision_at_k(["a"], {"a"}, 0)
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], {"a"}, 0)
    with pytest.raises(ValueError):
        impression_ndcg([0.1], [1], 0)


# --------------------------------------------------------------------------
# nDCG@k on ranked lists
# --------------------------------------------------------------------------


def test_ndcg_at_k_partial_hit() -> None:
    ranked = ["x", "a", "y", "b"]
    relevant = {"a", "b"}
    # top 3: a at rank 2 -> DCG = 1/log2(3) = 0.6309298; b (rank 4) is cut off
    # IDCG over min(3, 2) = 2 slots: 1/log2(2) + 1/log2(3) = 1.6309298
    # nDCG = 0.6309298 / 1.6309298 = 0.3868528
    assert ndcg_at_k(ranked, relevant, 3) == pytest.approx(0.3868528, abs=1e-6)


def test_ndcg_at_k_perfect_and_more_relevant_than_k() -> None:
    # a, b at ranks 1, 2; three relevant but k = 2 -> IDCG over min(2, 3) = 2
    # DCG = 1 + 0.6309298 = IDCG -> 1.0
    assert ndcg_at_k(["a", "b"], {"a", "b", "c"}, 2) == pytest.approx(1.0)


def test_ndcg_at_k_no_relevant_is_zero() -> None:
    assert ndcg_at_k(["a", "b"], set(), 2) == 0.0
    # relevant items exist but none ranked -> DCG 0 -> 0.0
    assert ndcg_at_k(["a", "b"], {"z"}, 2) == 0.0


def test_reciprocal_rank() -> None:
    # first relevant (a) at rank 3 -> 1/3
    assert reciprocal_rank(["x", "y", "a", "b"], {"a", "b"}) == pytest.approx(1 / 3)
    # none relevant -> 0
    assert reciprocal_rank(["x", "y"], {"a"}) == 0.0


# --------------------------------------------------------------------------
# impression AUC
# --------------------------------------------------------------------------


def test_auc_with_ties() -> None:
    # pairs (pos, neg): (0.5 vs 0.5) tie -> 0.5, (0.5 vs 0.2) win -> 1
    # AUC = (0.5 + 1) / (1 * 2) = 0.75
    assert impression_auc([0.5, 0.5, 0.2], [1, 0, 0]) == pytest.approx(0.75)


def test_auc_mixed_order() -> None:
    # pos {0.35, 0.8}, neg {0.1, 0.4}
    # 0.35>0.1 -> 1, 0.35<0.4 -> 0, 0.8>0.1 -> 1, 0.8>0.4 -> 1
    # AUC = 3 / (2 * 2) = 0.75
    assert impression_auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(0.75)


def test_auc_perfect_inverted_and_all_tied() -> None:
    # click scored above both non-clicks -> 2/2
    assert impression_auc([0.9, 0.1, 0.2], [1, 0, 0]) == pytest.approx(1.0)
    # click scored below both non-clicks -> 0/2
    assert impression_auc([0.0, 0.1, 0.2], [1, 0, 0]) == pytest.approx(0.0)
    # every pair tied -> (0.5 + 0.5) / 2 = 0.5
    assert impression_auc([0.3, 0.3, 0.3], [1, 0, 0]) == pytest.approx(0.5)


def test_auc_no_click_is_none() -> None:
    assert impression_auc([0.9, 0.1, 0.5], [0, 0, 0]) is None


def test_auc_all_clicked_is_none() -> None:
    assert impression_auc([0.9, 0.1], [1, 1]) is None


def test_auc_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        impression_auc([0.1, 0.2], [1])
    with pytest.raises(ValueError):
        impression_auc([0.1, 0.2], [2, 0])


# --------------------------------------------------------------------------
# impression MRR
# --------------------------------------------------------------------------


def test_mrr_with_two_clicks() -> None:
    # by score: 0.9 (l=0) r1, 0.5 (l=1) r2, 0.3 (l=0) r3, 0.1 (l=1) r4
    # rr = 0/1 + 1/2 + 0/3 + 1/4 = 0.75; divided by 2 clicks -> 0.375
    assert impression_mrr([0.1, 0.9, 0.5, 0.3], [1, 0, 1, 0]) == pytest.approx(0.375)


def test_mrr_ties_keep_original_order() -> None:
    # tie: original order -> non-click r1, click r2 -> (1/2) / 1 = 0.5
    assert impression_mrr([0.5, 0.5], [0, 1]) == pytest.approx(0.5)
    # tie: click first -> (1/1) / 1 = 1.0
    assert impression_mrr([0.5, 0.5], [1, 0]) == pytest.approx(1.0)


def test_mrr_no_click_is_none() -> None:
    assert impression_mrr([0.3, 0.2], [0, 0]) is None


# --------------------------------------------------------------------------
# impression nDCG
# --------------------------------------------------------------------------


def test_ndcg_at_5_with_known_ranks() -> None:
    scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4]
    labels = [0, 1, 0, 0, 1, 0]
    # clicks at ranks 2 and 5, gain 2**1 - 1 = 1 each
    # DCG@5 = 1/log2(3) + 1/log2(6) = 0.6309298 + 0.3868528 = 1.0177826
    # IDCG@5 = 1/log2(2) + 1/log2(3) = 1 + 0.6309298 = 1.6309298
    # nDCG = 1.0177826 / 1.6309298 = 0.6240505
    assert impression_ndcg(scores, labels, 5) == pytest.approx(0.6240505, abs=1e-6)


def test_ndcg_sorts_by_score() -> None:
    # by score: 0.9 (l=0), 0.5 (l=0), 0.2 (l=1) -> click at rank 3
    # DCG = 1/log2(4) = 0.5, IDCG = 1/log2(2) = 1 -> 0.5
    assert impression_ndcg([0.2, 0.9, 0.5], [1, 0, 0], 5) == pytest.approx(0.5)
    # with k = 2 the click (rank 3) is cut off -> DCG 0 / IDCG 1 -> 0.0
    assert impression_ndcg([0.2, 0.9, 0.5], [1, 0, 0], 2) == pytest.approx(0.0)


def test_ndcg_ties_keep_original_order() -> None:
    # tie, k = 1: top-1 is the first candidate (l=0) -> 0 / 1 = 0.0
    assert impression_ndcg([0.5, 0.5], [0, 1], 1) == pytest.approx(0.0)
    # tie, k = 1: top-1 is the click -> 1 / 1 = 1.0
    assert impression_ndcg([0.5, 0.5], [1, 0], 1) == pytest.approx(1.0)


def test_ndcg_no_click_is_none() -> None:
    assert impression_ndcg([0.3, 0.2], [0, 0], 5) is None


# --------------------------------------------------------------------------
# coverage, diversity, novelty, mean
# --------------------------------------------------------------------------


def test_catalogue_coverage() -> None:
    # distinct {a, b, c} = 3 of a catalogue of 10 -> 0.3
    lists = [["a", "b"], ["b", "c"], []]
    assert catalogue_coverage(lists, 10) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        catalogue_coverage(lists, 0)


def test_diversity_orthogonal_vectors() -> None:
    # all pairwise cosines 0 -> 1 - 0 = 1.0
    assert intra_list_diversity(np.eye(3)) == pytest.approx(1.0)


def test_diversity_identical_vectors() -> None:
    v = np.tile(np.array([0.6, 0.8]), (3, 1))  # |v| = sqrt(.36 + .64) = 1
    # all pairwise cosines 1 -> 1 - 1 = 0.0
    assert intra_list_diversity(v) == pytest.approx(0.0)


def test_diversity_mixed_angles() -> None:
    h = math.sqrt(0.5)
    v = np.array([[1.0, 0.0], [h, h], [0.0, 1.0]])
    # cosines: (0,1) = 0.7071068, (0,2) = 0, (1,2) = 0.7071068
    # mean = 1.4142136 / 3 = 0.4714045 -> 1 - 0.4714045 = 0.5285955
    assert intra_list_diversity(v) == pytest.approx(0.5285955, abs=1e-6)


def test_diversity_fewer_than_two_rows() -> None:
    assert intra_list_diversity(np.array([[1.0, 0.0]])) == 0.0
    assert intra_list_diversity(np.zeros((0, 4))) == 0.0


def test_novelty_seen_items() -> None:
    popularity = {"a": 2.0, "b": 1.0, "c": 1.0}  # total 4
    # p(a) = 2/4 -> -log2(0.5) = 1; p(b) = 1/4 -> -log2(0.25) = 2; mean = 1.5
    assert novelty(["a", "b"], popularity) == pytest.approx(1.5)


def test_novelty_unseen_item_uses_floor() -> None:
    popularity = {"a": 2.0, "b": 1.0, "c": 1.0}  # total 4
    # unseen z: p = max(0, 1/(4+1)) = 0.2 -> -log2(0.2) = log2(5) = 2.3219281
    assert novelty(["z"], popularity) == pytest.approx(2.3219281, abs=1e-6)
    # a (1 bit) with z (2.3219281 bits) -> mean 1.6609640
    assert novelty(["a", "z"], popularity) == pytest.approx(1.6609640, abs=1e-6)


def test_mean_of_ignores_none() -> None:
    # (1 + 2 + 4.5) / 3 = 2.5
    assert mean_of([1.0, None, 2.0, 4.5, None]) == pytest.approx(2.5)
    assert math.isnan(mean_of([None, None]))
    assert math.isnan(mean_of([]))


def test_mean_of_impression_metrics_skips_undefined() -> None:
    aucs = [
        impression_auc([0.5, 0.5, 0.2], [1, 0, 0]),  # 0.75 (see above)
        impression_auc([0.9, 0.1], [0, 0]),  # None, skipped
        impression_auc([0.9, 0.1], [1, 0]),  # 1.0
    ]
    # (0.75 + 1.0) / 2 = 0.875
    assert mean_of(aucs) == pytest.approx(0.875)
