"""A speculative error band says which of its rows the speed factors were fitted on: benchmarks/calibrate.py fits the
fit file's speed rows only (`speed_cases`), never its decode-pool rows, so LMSYS-024/025 (MTP decode pools in
measurements-fit.csv) are out of sample though their file is the fit file (found by tester5)."""

from __future__ import annotations

import pytest

from optimizer.documents import ALL_FAMILIES, ErrorBand, band_json, band_text, speculative_error_bands


def test_the_hopper_band_counts_its_one_fitted_row(catalog):
    # Hopper's speculative rows: TRTR1-003 (tok_s_per_user, fitted on), LMSYS-024 and LMSYS-025 (decode pools,
    # not fitted on): 1 of 3 fitted.
    hopper = speculative_error_bands(catalog)["NVIDIA Hopper"]
    assert hopper.measurements == 3
    text = band_text(hopper)
    assert "the model was fitted on" not in text and "1 of them fitted on" in text
    assert band_json(hopper)["set"] == "mixed" and band_json(hopper)["fitted"] == 1


def test_every_familys_band_counts_two_of_four(catalog):
    # Adding Blackwell's TRTR1-004 (tok_s_per_user, fitted on): 2 of 4, a tie the majority rule broke by set order.
    every = speculative_error_bands(catalog)[ALL_FAMILIES]
    assert every.measurements == 4 and "2 of them fitted on" in band_text(every)


@pytest.mark.parametrize("fitted, words", [(0, "not used in fitting"), (3, "the model was fitted on")])
def test_a_band_all_in_or_all_out_of_sample_words_it_so(fitted, words):
    band = ErrorBand("NVIDIA Hopper", 0.2, 3, "test" if fitted == 0 else "fit", speculative=True, fitted=fitted)
    assert words in band_text(band)


@pytest.mark.parametrize("accelerator", ["v100-32g", "p40"])
def test_a_family_never_measured_stays_unvalidated_with_speculation(catalog, accelerator):
    # No Volta or Pascal row: the plain step's model is not validated there, so neither is a speculative step that
    # rests on it; the other families' speculative rows made it '±26% (... any hardware family)'.
    from optimizer.documents import band_short, line_band

    assert line_band(catalog, accelerator) is None
    band = line_band(catalog, accelerator, {"method": "eagle", "tokens": 2})
    assert band is None and band_short(band) == "±?" and band_text(band).startswith("not validated")
