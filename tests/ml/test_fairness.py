"""Fairness metrics against numbers worked out by hand on a small example."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from churn.fairness import fairness_report

# Two groups of four. Threshold 0.5.
#   group A: labels 1 1 0 0, probabilities .9 .4 .6 .1 -> predicted 1 0 1 0
#            selection 2/4 = .50, TPR 1/2 = .50, FPR 1/2 = .50; AUC: pairs (pos>neg) .9>.6 .9>.1 .4>.1, .4<.6 -> 3/4
#   group B: labels 1 0 0 0, probabilities .8 .7 .2 .3 -> predicted 1 1 0 0
#            selection 2/4 = .50, TPR 1/1 = 1.0, FPR 1/3; AUC: .8 beats all three negatives -> 1.0
# demographic parity difference = |.50 - .50| = 0
# equalized odds difference = max(|.50 - 1.0|, |.50 - 1/3|) = .50
Y = np.array([1, 1, 0, 0, 1, 0, 0, 0])
P = np.array([0.9, 0.4, 0.6, 0.1, 0.8, 0.7, 0.2, 0.3])
GROUPS = pd.DataFrame({"gender": ["A"] * 4 + ["B"] * 4, "dependents": ["Yes", "No"] * 4})


def test_per_group_rates_and_gaps_match_the_hand_computed_example():
    result = fairness_report(Y, P, 0.5, GROUPS).attributes["gender"]
    by_group = result.by_group
    assert by_group.loc["A", "selection_rate"] == pytest.approx(0.5)
    assert by_group.loc["A", "tpr"] == pytest.approx(0.5)
    assert by_group.loc["A", "fpr"] == pytest.approx(0.5)
    assert by_group.loc["A", "roc_auc"] == pytest.approx(0.75)
    assert by_group.loc["B", "tpr"] == pytest.approx(1.0)
    assert by_group.loc["B", "fpr"] == pytest.approx(1 / 3)
    assert by_group.loc["B", "roc_auc"] == pytest.approx(1.0)
    assert list(by_group["count"]) == [4, 4]
    assert result.demographic_parity_difference == pytest.approx(0.0)
    assert result.equalized_odds_difference == pytest.approx(0.5)


def test_every_attribute_is_reported_and_the_worst_gap_is_the_gate_value():
    report = fairness_report(Y, P, 0.5, GROUPS)
    # dependents: Yes = rows 0,2,4,6 (labels 1 0 1 0, predicted 1 1 1 0): selection .75, TPR 1, FPR .5
    #             No  = rows 1,3,5,7 (labels 1 0 0 0, predicted 0 0 1 0): selection .25, TPR 0, FPR 1/3
    dependents = report.attributes["dependents"]
    assert dependents.demographic_parity_difference == pytest.approx(0.5)
    assert dependents.equalized_odds_difference == pytest.approx(1.0)
    assert report.max_equalized_odds_difference == pytest.approx(1.0)
    metrics = report.metrics()
    assert metrics["fairness_gender_equalized_odds_difference"] == pytest.approx(0.5)
    assert metrics["fairness_max_demographic_parity_difference"] == pytest.approx(0.5)


def test_a_group_with_one_class_has_no_auc_instead_of_failing():
    groups = pd.DataFrame({"senior_citizen": ["Yes", "Yes", "No", "No", "No", "No", "No", "No"]})
    y = np.array([1, 1, 0, 0, 1, 0, 0, 1])
    result = fairness_report(y, P, 0.5, groups).attributes["senior_citizen"]
    assert math.isnan(result.by_group.loc["Yes", "roc_auc"])
    assert result.as_dict()["groups"][1]["roc_auc"] is None  # JSON has no NaN
