"""A model an engine serves only from some release on (`Model.min_engine_versions`): an estimate or a plan
naming an older release exits 2 and says which release is needed (gpt-oss needs vLLM 0.10.1,
https://cookbook.openai.com/articles/gpt-oss/run-vllm)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from catalog.errors import InputError
from cli import main
from optimizer import estimate


@pytest.mark.parametrize("model", ["gpt-oss-20b", "gpt-oss-120b"])
def test_older_vllm_cannot_serve_gpt_oss(catalog, model):
    with pytest.raises(InputError, match=r"from release 0\.10\.1 on") as err:
        estimate(catalog, model=model, accelerator="h100-sxm", gpus=1, engine="vllm", engine_version="0.9.2")
    assert "--engine-version" in str(err.value) and "0.9.2" in str(err.value)


@pytest.mark.parametrize("version", ["0.10.1", "0.12.0", "v0.21.0"])
def test_the_first_release_and_later_ones_serve_it(catalog, version):
    est = estimate(catalog, model="gpt-oss-120b", accelerator="h200-sxm", gpus=1, engine="vllm",
                   engine_version=version)
    assert est.fits


def test_the_minimum_belongs_to_its_engine(catalog):
    """The requirement names vLLM; a model without one takes any release."""
    assert catalog.models["gpt-oss-120b"].min_engine_version("sglang") is None
    assert catalog.models["gpt-oss-120b"].min_engine_version("vllm").version == "0.10.1"
    est = estimate(catalog, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, engine="vllm", engine_version="0.7.3")
    assert est.fits


def test_estimate_exits_2_with_one_paragraph():
    result = CliRunner().invoke(main, ["estimate", "--model", "gpt-oss-120b", "--accelerator", "h100-sxm",
                                       "--gpus", "1", "--engine", "vllm", "--engine-version", "0.9.2"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert "vLLM serves gpt-oss-120b from release 0.10.1 on" in result.output


@pytest.mark.parametrize("engine, accelerator, precision, version, numbering", [
    ("vllm", "h100-sxm", "auto", "b6000", "0.21.0"),          # a llama.cpp build number given to vLLM
    ("sglang", "h100-sxm", "auto", "b4500", "0."),
    ("llama.cpp", "epyc-9654", "q4_k_m", "0.21", "b6000"),    # a dotted release given to llama.cpp
])
def test_a_release_numbered_unlike_the_engines_is_refused(catalog, engine, accelerator, precision, version, numbering):
    with pytest.raises(InputError, match="numbers its releases like") as err:
        estimate(catalog, model="llama-3.1-8b", accelerator=accelerator, gpus=1, engine=engine,
                 precision=precision, engine_version=version)
    assert f"= {version}:" in str(err.value) and f"like {numbering}" in str(err.value)


def test_a_release_newer_than_the_catalogs_takes_the_newest_rules(catalog):
    newest = catalog.engines["vllm"].memory.known_versions()[-1]
    est = estimate(catalog, model="llama-3.1-8b", accelerator="h100-sxm", gpus=1, engine="vllm", engine_version="99.0")
    assert est.fits
    assert (est.engine_settings["engine_version"], est.engine_settings["memory_rules_version"]) == ("99.0", newest)
    build = estimate(catalog, model="llama-3.1-8b", accelerator="epyc-9654", gpus=1, engine="llama.cpp",
                     precision="q4_k_m", engine_version="b9000")
    assert build.engine_settings["engine_version"] == "b9000"


def test_a_problem_file_with_a_misnumbered_release_names_the_file_and_field(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("model: llama-3.1-8b\nworkload:\n  concurrent_users: 10\n  min_tokens_per_s: 10\n"
                    "engine: vllm\nengine_settings:\n  version: b6000\n")
    result = CliRunner().invoke(main, ["solve", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}:7:" in result.output
    assert "engine_settings.version = 'b6000': vLLM numbers its releases like" in result.output
