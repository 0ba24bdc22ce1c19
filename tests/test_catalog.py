"""The catalog: bundled data is complete and consistent; bad files fail with a location."""

from __future__ import annotations

import textwrap

import pytest

from catalog import CatalogError, load_catalog
from optimizer.units import platform_accepts

DESIGN_ACCELERATORS = ("a100-40g-sxm a100-80g-pcie a100-80g-sxm a800-80g-pcie a800-80g-sxm h100-pcie h100-sxm h800-sxm "
                       "h100-nvl h200-sxm h200-nvl h20-96g h20-141g b200 b300 gb200 l40s l20 rtx-4090 rtx-5090 "
                       "rtx-6000-ada rtx-pro-6000 a6000 rtx-3090 v100-32g p40 mi210 mi250x mi300x mi325x mi355x "
                       "ascend-910b ascend-910c gaudi3 gb10 epyc-9654 epyc-9135 xeon-6980p xeon-8480").split()
DESIGN_MODELS = ("deepseek-r1 deepseek-v3 deepseek-r1-distill-llama-70b deepseek-r1-distill-qwen-14b llama-2-70b "
                 "llama-3.1-8b llama-3.1-70b llama-3.1-405b llama-3.3-70b llama-4-scout llama-4-maverick qwen2.5-72b "
                 "qwen3-32b qwen3-235b-a22b kimi-k2 gpt-oss-20b gpt-oss-120b mixtral-8x7b glm-4.5").split()


def test_every_design_id_is_in_the_bundled_catalog(catalog):
    assert set(DESIGN_ACCELERATORS) <= set(catalog.accelerators)
    assert set(DESIGN_MODELS) <= set(catalog.models)
    assert len(catalog.accelerators) >= 30
    assert {"vllm", "sglang", "trtllm", "llama.cpp"} <= set(catalog.engines)
    assert {"seed-2025-02", "street-usd-2025"} <= set(catalog.price_lists)


def test_every_record_has_a_source_and_a_date(catalog):
    for table in (catalog.accelerators, catalog.platforms, catalog.systems, catalog.models, catalog.engines,
                  catalog.price_lists):
        for record in table.values():
            assert record.source and record.date, record.id


def test_systems_fit_their_platforms(catalog):
    for s in catalog.systems.values():
        plat, acc = catalog.platforms[s.platform], catalog.accelerators[s.accelerator]
        assert platform_accepts(plat, acc) and s.count in plat.gpu_counts, s.id


def test_deepseek_r1_has_its_quantized_builds_with_measured_sizes(catalog):
    m = catalog.models["deepseek-r1"]
    sizes = {v.id: v.size_gb for v in m.variants}
    assert sizes["ud-1.58bit"] == 131 and sizes["ud-1.73bit"] == 158
    assert sizes["ud-2.22bit"] == 183 and sizes["ud-2.51bit"] == 212
    assert {"fp8", "bf16", "int8", "int4", "q8_0", "q4_k_m"} <= set(sizes)


def test_seed_price_list_holds_the_seed_quotes(catalog):
    seed = catalog.price_lists["seed-2025-02"]
    prices = {o.item: o.price for o in seed.offers}
    assert seed.currency == "CNY"
    assert prices["hgx-h200-8x"] == 2_450_000 and prices["dgx-h200"] == 2_850_000
    assert prices["mi300x-8x"] == 2_000_000 and prices["xe9680-h20-8x"] == 1_100_000


def _write(tmp_path, text, name="extra.yaml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


H200_OVERRIDE = """\
    schema_version: 1
    accelerators:
      - id: h200-sxm
        name: H200 (test override)
        maker: nvidia
        hardware_class: datacenter
        family: hopper
        form_factor: sxm
        memory_gb: {memory}
        memory_bandwidth_gbs: 4800
        tflops: {{bf16: 989, fp8: 1979}}
        native_dtypes: [bf16, fp8]
        tdp_w: 700
        interconnect_gbs: 900
        max_per_node: 8
        source: "assumption: test override"
        date: 2025-01
"""


def test_user_file_overrides_a_bundled_entry_by_id(tmp_path):
    cat = load_catalog([_write(tmp_path, H200_OVERRIDE.format(memory=999))])
    assert cat.accelerators["h200-sxm"].memory_gb == 999
    assert "mi300x" in cat.accelerators


def test_bad_value_names_file_line_field_and_value(tmp_path):
    path = _write(tmp_path, H200_OVERRIDE.format(memory=-5))
    with pytest.raises(CatalogError) as err:
        load_catalog([path])
    msg = str(err.value)
    assert f"{path}:9:" in msg and "accelerators[0].memory_gb = -5" in msg and "greater than 0" in msg


def test_misspelled_key_suggests_the_field(tmp_path):
    path = _write(tmp_path, H200_OVERRIDE.format(memory=141).replace("tdp_w:", "tdp_watts:"))
    with pytest.raises(CatalogError, match=r"unknown key 'accelerators\[0\].tdp_watts' — did you mean 'tdp_w'"):
        load_catalog([path])


def test_duplicate_ids_in_one_file_are_rejected(tmp_path):
    body = H200_OVERRIDE.format(memory=141)
    entry = body.split("accelerators:\n", 1)[1]
    path = _write(tmp_path, body + entry)
    with pytest.raises(CatalogError, match="defined twice"):
        load_catalog([path])


def test_offer_for_an_unknown_item_suggests_ids(tmp_path):
    path = _write(tmp_path, """\
        schema_version: 1
        price_lists:
          - id: mine
            name: Mine
            currency: USD
            source: "assumption: a quote made up for this test"
            date: 2025
            offers:
              - {item: h200-sx, price: 30000, seller: Example Distributor, source: quote, price_date: 2025-05}
    """)
    with pytest.raises(CatalogError, match="did you mean 'h200-sxm'"):
        load_catalog([path])


def test_missing_schema_version_and_non_mapping_files(tmp_path):
    with pytest.raises(CatalogError, match="schema_version"):
        load_catalog([_write(tmp_path, "accelerators: []\n")])
    with pytest.raises(CatalogError, match="holds a list"):
        load_catalog([_write(tmp_path, "- a\n- b\n", "list.yaml")])
    with pytest.raises(CatalogError, match="empty"):
        load_catalog([_write(tmp_path, "", "empty.yaml")])
    garbage = tmp_path / "bin.yaml"
    garbage.write_bytes(b"\x00\xff\xfe")
    with pytest.raises(CatalogError, match="binary"):
        load_catalog([garbage])


def test_unknown_id_errors_name_a_catalog_command_that_exists(catalog):
    """Every section's "`hwplan catalog X` lists them" names a real subcommand: systems are listed by
    `catalog platforms`, racks and network items by `catalog network` (there is no `catalog systems`)."""
    import json
    import re

    from click.testing import CliRunner

    import cli
    from catalog.loader import LIST_COMMANDS, _SECTIONS

    assert set(LIST_COMMANDS) == set(_SECTIONS)
    for section in _SECTIONS:
        assert LIST_COMMANDS[section] in cli.catalog_group.commands, section
    with pytest.raises(CatalogError) as err:
        catalog.system("gb200-nvl73", "problem.yaml")
    command = re.search(r"`hwplan catalog (\S+)` lists them", str(err.value)).group(1)
    assert command == "platforms"
    listing = CliRunner().invoke(cli.main, ["catalog", command, "--format", "json"])
    assert listing.exit_code == 0
    assert "gb200-nvl72" in {row["id"] for row in json.loads(listing.output)}
