"""`catalog import-model`: one active-parameter convention with the bundled catalog, dtype bits, no NaN."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from catalog import load_catalog
from catalog.errors import CatalogError
from catalog.hf_import import import_model

DATA = Path(__file__).parent / "data" / "model-configs"


def test_a_dense_model_is_all_active_as_in_the_bundled_catalog():
    m = import_model(DATA / "Llama-3.1-8B-Instruct").model
    cfg = json.loads((DATA / "Llama-3.1-8B-Instruct" / "config.json").read_text())
    assert cfg["vocab_size"] * cfg["hidden_size"] > 0.5e9       # the input embedding: 0.53B, counted
    assert m.moe is None and m.active_params_b == m.params_b
    bundled = load_catalog().model("llama-3.1-8b")
    assert (bundled.params_b, bundled.active_params_b) == (m.params_b, m.active_params_b)
    # Every bundled dense model follows the same rule: active = total less the vision encoder.
    for b in load_catalog().models.values():
        if b.moe is None:
            assert b.active_params_b == pytest.approx(b.params_b - b.vision_params_b, abs=0.011), b.id


def test_a_bf16_checkpoint_reports_16_bits_and_its_measured_size(tmp_path):
    shutil.copytree(DATA / "Llama-3.1-8B-Instruct", tmp_path / "m")
    with open(tmp_path / "m" / "model.safetensors", "wb") as fh:
        fh.truncate(16_322_000_000)                              # sparse: 16.322 GB, > 2 B per parameter
    v = import_model(tmp_path / "m").model.variant("bf16")
    assert 16_322_000_000 * 8 / 8.03e9 > 16.2                    # the average would be ~16.26 bits
    assert v.bits_per_weight == 16 and v.size_gb == 16.322


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_number_in_config_json_is_refused(tmp_path, literal):
    shutil.copytree(DATA / "Llama-3.1-8B-Instruct", tmp_path / "m")
    path = tmp_path / "m" / "config.json"
    cfg = json.loads(path.read_text())
    cfg["rope_scaling"] = {"factor": 8.0, "low_freq_factor": float(literal.replace("Infinity", "inf"))}
    path.write_text(json.dumps(cfg))                             # json.dumps writes NaN / Infinity literals
    assert literal in path.read_text()
    with pytest.raises(CatalogError, match=f"field 'rope_scaling.low_freq_factor' = {literal}"):
        import_model(tmp_path / "m")
    result = CliRunner().invoke(cli.main, ["catalog", "import-model", str(tmp_path / "m")])
    assert result.exit_code == 2 and "config.json" in result.output and "low_freq_factor" in result.output
    assert "Traceback" not in result.output
