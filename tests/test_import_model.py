"""`hwplan catalog import-model` and `--model-config`: models from their public Hugging Face files.

Every expected number is derived here by hand from the numbers in the public config.json
(tests/data/model-configs/README.md gives each file's URL), never copied from the code.
Parameter counts and KV bytes must be within 1% of the derivation; checkpoint sizes within
2% of the published size.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog import load_catalog
from catalog.errors import CatalogError
from catalog.hf_import import import_model, model_yaml
from cli import main
from optimizer import sizing

DATA = Path(__file__).parent / "data" / "model-configs"


def _model(name: str):
    return import_model(DATA / name).model


def _close(got: float, want: float, tol: float = 0.01) -> None:
    assert abs(got - want) <= tol * abs(want), f"{got} is not within {tol:.0%} of {want}"


# -- dense and MoE GQA ---------------------------------------------------------------------------------
def test_qwen3_coder_480b():
    m = _model("Qwen3-Coder-480B-A35B-Instruct")
    h, L, E, k, i_e, V = 6144, 62, 160, 8, 2560, 151936
    attn = h * 96 * 128 + 2 * h * 8 * 128 + 96 * 128 * h          # q, k, v, o
    experts = L * E * 3 * h * i_e                                   # 62 × 160 × 3 × 6144 × 2560
    total = L * attn + experts + L * h * E + 2 * V * h              # + routers, embeddings and head
    active = total - experts + experts * k / E - V * h              # the input embedding is a lookup
    _close(m.params_b * 1e9, total)
    _close(m.active_params_b * 1e9, active)
    _close(m.params_b, 480, 0.01)                                   # the model card: 480B total, 35B active
    _close(m.active_params_b, 35, 0.03)
    # KV: 2 × 62 layers × 8 KV heads × 128 × 2 B = 253,952 B per token at bf16.
    assert sizing.kv_bytes_per_token(m, "bf16") == 2 * 62 * 8 * 128 * 2
    assert m.moe.experts == 160 and m.moe.moe_layers == 62 and m.max_context == 262144


def test_step_3_7_flash_sliding_window():
    m = _model("Step-3.7-Flash")
    # 45 layers, layer_types: full every 4th from layer 0 -> 12 full, 33 sliding with a 512-token window.
    per_layer = 2 * 8 * 128 * 2                                    # 4096 B at bf16
    assert m.attention.window_layers == 33 and m.attention.window_tokens == 512
    assert sizing.kv_bytes_per_token(m, "bf16") == 45 * per_layer
    ctx = 10_000
    assert sizing.kv_bytes_per_request(m, "bf16", ctx) == per_layer * (12 * ctx + 33 * 512)
    h, V = 4096, 128896
    attn = h * 64 * 128 * 2 + 2 * h * 8 * 128
    experts = 42 * 288 * 3 * h * 1280                               # layers 3..44 are MoE
    total = 45 * attn + 3 * 3 * h * 11264 + experts + 42 * 3 * h * 1280 + 42 * h * 288 + 2 * V * h
    _close(m.params_b * 1e9, total)
    _close(m.active_params_b * 1e9, total - experts + experts * 8 / 288 - V * h)


def test_gemma_4_sliding_and_global_layers_have_their_own_heads():
    m = _model("gemma-4-26B-A4B")
    # 30 layers: 25 sliding (8 KV heads × 256, window 1024), 5 full (2 KV heads × 512, K reused as V
    # in the weights; the cache still holds K and V).
    sliding, full = 2 * 8 * 256 * 2, 2 * 2 * 512 * 2
    assert sizing.kv_bytes_per_token(m, "bf16") == 25 * sliding + 5 * full
    assert sizing.kv_bytes_per_request(m, "bf16", 4096) == 25 * sliding * 1024 + 5 * full * 4096
    h, V = 2816, 262144
    attn = 25 * (h * 16 * 256 * 2 + 2 * h * 8 * 256) + 5 * (h * 16 * 512 * 2 + h * 2 * 512)
    experts = 30 * 128 * 3 * h * 704
    text = attn + 30 * 3 * h * 2112 + experts + 30 * h * 128 + V * h  # tied embeddings: no separate head
    _close((m.params_b - m.vision_params_b) * 1e9, text)
    _close(m.active_params_b * 1e9, text - experts + experts * 8 / 128)
    assert m.tie_word_embeddings and 0.3 < m.vision_params_b < 0.6      # a SigLIP-size encoder


def test_mimo_v2_flash_value_dims_differ_from_key_dims():
    m = _model("MiMo-V2-Flash")
    # hybrid_layer_pattern: 9 full layers (0), 39 sliding (1, window 128). Full: 4 KV heads,
    # K 192 + V 128 dims; sliding: 8 KV heads, same dims.
    full, swa = 4 * (192 + 128) * 2, 8 * (192 + 128) * 2
    assert m.attention.window_layers == 39
    assert sizing.kv_bytes_per_token(m, "bf16") == 9 * full + 39 * swa
    assert sizing.kv_bytes_per_request(m, "bf16", 1000) == 9 * full * 1000 + 39 * swa * 128
    h = 4096
    experts = 47 * 256 * 3 * h * 2048
    _close(m.params_b * 1e9, experts + 3 * h * 16384 + 9 * (h * 64 * 192 + h * 4 * 320 + 64 * 128 * h)
           + 39 * (h * 64 * 192 + h * 8 * 320 + 64 * 128 * h) + 47 * h * 256 + 2 * 152576 * h)
    assert m.native_precision == "fp8" and m.variant("fp8").requires_native == "fp8"


# -- MLA, indexer, compressed attention ----------------------------------------------------------------
def test_deepseek_v3_2_indexer_cache_and_checkpoint_size():
    m = _model("DeepSeek-V3.2")
    # MLA latent (512 + 64) × 2 B per layer, plus the indexer key: 128 fp8 + one fp32 scale = 132 B.
    assert sizing.kv_bytes_per_token(m, "bf16") == 61 * (576 * 2 + 132)
    # fp8 KV: the sparse MLA kernels store 512 fp8 + 4 fp32 scales + 64 bf16 RoPE values = 656 B.
    assert sizing.kv_bytes_per_token(m, "fp8") == 61 * (512 + 4 * 4 + 64 * 2 + 132)
    h, n, V = 7168, 128, 129280
    mla = h * 1536 + 1536 + 1536 * n * 192 + h * 576 + 512 + 512 * n * 256 + n * 128 * h
    indexer = 1536 * 64 * 128 + h * 128 + 2 * 128 + h * 64
    experts = 58 * 256 * 3 * h * 2048
    total = 61 * (mla + indexer) + 3 * 3 * h * 18432 + experts + 58 * 3 * h * 2048 + 2 * V * h
    _close(m.params_b * 1e9, total)
    # The checkpoint (fp8, with the MTP layer) is listed at 642.1 GiB on
    # https://free2aitools.com/model/deepseek-ai/deepseek-v3.2-speciale (same architecture as V3.2).
    _close(m.variant("fp8").size_gb * 1e9, 642.1 * 2**30, 0.02)
    # The bf16 upcast converts the MTP layer too (2 B a parameter, its 13.48B with the main model's); the sizing
    # takes the layer off again unless MTP runs, leaving the main model's 2 B a parameter.
    assert m.variant("bf16").size_gb == pytest.approx(2 * (m.params_b + m.mtp.params_b), rel=1e-3)
    assert sizing.weight_parts(m, m.variant("bf16")).total == pytest.approx(2 * m.params_b * 1e9, rel=1e-3)


def test_a_quantized_checkpoint_sizes_its_experts_at_their_own_bits():
    """DeepSeek-V3.2 fp8: the checkpoint's average over all its bytes (8.21 bits, with the bf16 embeddings and the
    MTP layer) would size the routed experts past what the main model holds and leave its dense part (MLA,
    indexer, dense MLPs, shared experts: about 16B parameters, each rank's whole copy under attention DP) at 0.
    The experts are fp8 with one fp32 scale per 128 × 128 block: 8 + 32 / 16384 bits."""
    m = _model("DeepSeek-V3.2")
    h, n = 7168, 128
    mla = h * 1536 + 1536 * n * 192 + h * 576 + 512 * n * 256 + n * 128 * h
    indexer = 1536 * 64 * 128 + h * 128 + h * 64
    dense_linear = 61 * (mla + indexer) + 3 * 3 * h * 18432 + 58 * 3 * h * 2048   # fp8, 1 B and a bit each
    parts = sizing.weight_parts(m, m.variant("fp8"))
    _close(parts.experts, 58 * 256 * 3 * h * 2048 * (8 + 32 / 128**2) / 8, 0.005)
    _close(parts.dense, dense_linear, 0.05)   # 1 B a parameter; the routers, norms and scales are a few % on top
    _close(m.variant("fp8").bits_per_weight, 8 + 32 / 128**2, 0.005)


def test_deepseek_v4_compressed_attention():
    m = _model("DeepSeek-V4-Flash")
    # Every one of 43 layers keeps a 128-token window of 584-byte rows (448 fp8 + 64 bf16 RoPE
    # values + 8 bytes of scales); compress_ratios: 2 window-only layers, 21 at ratio 4 (plus an
    # indexer key of 132 B per compressed row), 20 at ratio 128.
    row = 448 + 64 * 2 + 7 + 1
    ratios = json.loads((DATA / "DeepSeek-V4-Flash" / "config.json").read_text())["compress_ratios"][:43]
    assert (ratios.count(0), ratios.count(4), ratios.count(128)) == (2, 21, 20)
    per_token = 43 * row + 21 * (row + 132) / 4 + 20 * row / 128
    _close(sizing.kv_bytes_per_token(m, "bf16"), per_token)
    ctx = 1_048_576
    per_request = 43 * row * 128 + 21 * (row + 132) * ctx / 4 + 20 * row * ctx / 128
    _close(sizing.kv_bytes_per_request(m, "bf16", ctx), per_request)
    # The model card: 284B total, 13B activated.
    _close(m.params_b, 284, 0.01)
    assert 13 <= m.active_params_b < 14


def test_glm_5_and_kimi_k2_mla():
    glm = _model("GLM-5")
    assert sizing.kv_bytes_per_token(glm, "bf16") == 78 * (576 * 2 + 132)
    glm52 = _model("GLM-5.2")
    # indexer_types: 21 layers with their own indexer ('full'); the 'shared' ones keep no keys.
    assert sizing.kv_bytes_per_token(glm52, "bf16") == 78 * 576 * 2 + 21 * 132
    kimi = _model("Kimi-K2-Instruct")
    assert sizing.kv_bytes_per_token(kimi, "bf16") == 61 * 576 * 2
    h = 7168
    experts = 60 * 384 * 3 * h * 2048
    mla = h * 1536 + 1536 + 1536 * 64 * 192 + h * 576 + 512 + 512 * 64 * 256 + 64 * 128 * h
    total = 61 * mla + 3 * h * 18432 + experts + 60 * 3 * h * 2048 + 60 * h * 384 + 2 * 163840 * h
    _close(kimi.params_b * 1e9, total)
    _close(kimi.active_params_b * 1e9, total - experts + experts * 8 / 384 - 163840 * h)


# -- linear attention and Mamba: fixed state per request ------------------------------------------------
def test_qwen3_5_gated_deltanet_state():
    m = _model("Qwen3.5-27B")
    # 64 layers, a full-attention layer every 4th -> 16 full (4 KV heads × 256), 48 Gated DeltaNet.
    assert (m.kv_layers, m.attention.linear_layers) == (16, 48)
    assert sizing.kv_bytes_per_token(m, "bf16") == 16 * 2 * 4 * 256 * 2
    # State per layer: conv (4−1) × (2·16·128 + 48·128) bf16 + recurrent 48 × 128 × 128 fp32.
    state = 3 * (2 * 16 * 128 + 48 * 128) * 2 + 48 * 128 * 128 * 4
    assert sizing.state_bytes_per_request(m) == 48 * state
    assert sizing.kv_bytes_per_request(m, "bf16", 1000) == 16 * 2 * 4 * 256 * 2 * 1000 + 48 * state
    h = 5120
    gdn = h * (2 * 16 * 128 + 2 * 48 * 128) + h * 2 * 48 + (2 * 16 * 128 + 48 * 128) * 4 + 48 * 128 * h
    full = h * 24 * 256 * 2 + 2 * h * 4 * 256 + 24 * 256 * h        # q and its output gate, k, v, o
    text = 48 * gdn + 16 * full + 64 * 3 * h * 17408 + 2 * 248320 * h
    _close((m.params_b - m.vision_params_b) * 1e9, text)


def test_qwen3_5_moe_and_qwen3_6_nvfp4_build():
    m = _model("Qwen3.5-397B-A17B")
    assert (m.kv_layers, m.attention.linear_layers) == (15, 45)
    _close(m.params_b, 397, 0.01)                                   # the repository's name: 397B-A17B
    # Qwen's "A17B" counts the input embedding (248320 × 4096 = 1.02B) that this leaves out.
    _close(m.active_params_b + 248320 * 4096 / 1e9, 17.35, 0.01)
    q = _model("Qwen3.6-35B-A3B-NVFP4")
    fp4 = q.variant(q.native_precision)
    assert q.native_precision == "fp4" and fp4.requires_native == "fp4"
    # Experts and the head NVFP4 (4 + 8/16 bits), attention and linear attention fp8, the rest bf16:
    # far below 16 bits per weight on average, above the pure 4.5.
    assert 4.5 < fp4.bits_per_weight < 6.5


def test_nemotron_3_mamba_state():
    m = _model("NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    # hybrid_override_pattern: 23 Mamba (M), 23 MoE (E), 6 attention (*) layers.
    assert (m.layers, m.kv_layers, m.attention.linear_layers) == (52, 6, 23)
    assert sizing.kv_bytes_per_token(m, "bf16") == 6 * 2 * 2 * 128 * 2
    d_in, conv_dim = 64 * 64, 64 * 64 + 2 * 8 * 128
    state = 3 * conv_dim * 2 + 64 * 64 * 128 * 4                    # conv bf16, SSM state fp32
    assert sizing.state_bytes_per_request(m) == 23 * state
    h = 2688
    experts = 23 * 128 * 2 * h * 1856                               # squared-ReLU experts: up and down
    total = (experts + 23 * 2 * h * 3712 + 23 * (h * 128 + 128)
             + 23 * (h * (2 * d_in + 2 * 8 * 128 + 64) + d_in * h) + 6 * (h * 32 * 128 * 2 + 2 * h * 2 * 128)
             + 2 * 131072 * h)
    _close(m.params_b * 1e9, total)
    _close(m.active_params_b * 1e9, total - experts + experts * 6 / 128 - 131072 * h)
    _close(m.active_params_b, 3.2, 0.02)                            # the model card: 3.2B active


def test_kimi_k3_kda_and_mla_layers():
    m = _model("Kimi-K3")
    assert (m.kv_layers, m.attention.linear_layers, m.attention.linear_kind) == (24, 69, "kda")
    assert sizing.kv_bytes_per_token(m, "bf16") == 24 * 576 * 2
    # KDA state: conv 3 × (3 × 96 × 128) bf16 + recurrent 96 × 128 × 128 fp32.
    assert m.attention.state_bytes_per_layer == 3 * 3 * 96 * 128 * 2 + 96 * 128 * 128 * 4
    assert m.native_precision == "mxfp4"


def test_vision_language_text_part_is_sized_from_text_config():
    m = _model("Qwen3-VL-235B-A22B-Instruct")
    assert (m.layers, m.hidden_size, m.attention.kv_heads) == (94, 4096, 4)
    assert sizing.kv_bytes_per_token(m, "bf16") == 2 * 94 * 4 * 128 * 2
    assert m.vision_params_b > 0.3
    _close(m.params_b - m.vision_params_b, 235, 0.01)


# -- the safetensors index, quantization configs and the catalog -----------------------------------
def test_index_total_size_is_the_checkpoint_size(tmp_path):
    shutil.copytree(DATA / "Qwen3.5-27B", tmp_path / "m")
    (tmp_path / "m" / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": 55_600_000_000}, "weight_map": {}}))
    m = import_model(tmp_path / "m").model
    assert m.variant("bf16").size_gb == 55.6
    # A bf16 checkpoint stores 16 bits per weight; the measured size (norms, buffers, headers) is size_gb.
    assert 55.6e9 * 8 / (m.params_b * 1e9) > 16.2 and m.variant("bf16").bits_per_weight == 16


def test_safetensors_files_give_the_size_without_an_index(tmp_path):
    shutil.copytree(DATA / "Llama-3.1-8B-Instruct", tmp_path / "m")
    for name, size in (("model-00001-of-00002.safetensors", 10_000_000_000), ("model-00002-of-00002.safetensors",
                                                                                6_000_000_000)):
        with open(tmp_path / "m" / name, "wb") as fh:
            fh.truncate(size)                                       # sparse: no disk used
    assert import_model(tmp_path / "m").model.variant("bf16").size_gb == 16.0


def test_git_lfs_pointer_files_are_not_taken_for_weights(tmp_path):
    shutil.copytree(DATA / "Llama-3.1-8B-Instruct", tmp_path / "m")
    (tmp_path / "m" / "model.safetensors").write_text("version https://git-lfs.github.com/spec/v1\n")
    m = import_model(tmp_path / "m").model
    assert m.variant("bf16").size_gb == pytest.approx(2 * m.params_b, rel=0.01)   # computed: 2 B per parameter
    assert "pointers, not weights" in m.variant("bf16").notes


def test_imported_yaml_is_a_valid_catalog_file(tmp_path):
    m = import_model(DATA / "GLM-5", repo="zai-org/GLM-5").model
    assert m.source == "https://huggingface.co/zai-org/GLM-5/blob/main/config.json"
    path = tmp_path / "glm.yaml"
    path.write_text(model_yaml(m))
    cat = load_catalog([path])
    assert cat.models["glm-5"] == m


# -- bad input: exit 2, the file and the field named, no traceback, no output file ------------------------
@pytest.mark.parametrize("edit, field", [
    (lambda d: d.update(architectures=["FancyNewForCausalLM"]), "architectures"),
    (lambda d: d.pop("num_hidden_layers"), "num_hidden_layers"),
    (lambda d: d.update(num_key_value_heads="eight"), "num_key_value_heads"),
    (lambda d: d.update(quantization_config={"quant_method": "bitsy"}), "quant_method"),
])
def test_bad_config_exit_2_names_file_and_field(tmp_path, edit, field):
    data = json.loads((DATA / "Qwen3-Coder-480B-A35B-Instruct" / "config.json").read_text())
    edit(data)
    (tmp_path / "config.json").write_text(json.dumps(data))
    out = tmp_path / "m.yaml"
    res = CliRunner().invoke(main, ["catalog", "import-model", str(tmp_path), "-o", str(out)])
    assert res.exit_code == 2
    assert str(tmp_path / "config.json") in res.output and field in res.output
    assert "Traceback" not in res.output and not out.exists()


def test_unreadable_json_and_missing_folder(tmp_path):
    (tmp_path / "config.json").write_text('{"architectures": ["LlamaForCausalLM"],')
    res = CliRunner().invoke(main, ["catalog", "import-model", str(tmp_path)])
    assert res.exit_code == 2 and "not valid JSON" in res.output and "config.json" in res.output
    res = CliRunner().invoke(main, ["catalog", "import-model", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "nowhere" in res.output
    with pytest.raises(CatalogError, match="no config.json"):
        import_model(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    (tmp_path / "empty").mkdir()
    return tmp_path / "empty"


# -- end to end ------------------------------------------------------------------------------------------
def test_estimate_with_model_config():
    # vLLM 0.10.1 rules: from 0.21.0 the CUDA graphs (2.0 GiB) come out of the budget and one 262,144-token
    # request no longer fits.
    res = CliRunner().invoke(main, ["estimate", "--model-config", str(DATA / "Qwen3-Coder-480B-A35B-Instruct"),
                                    "--accelerator", "h200-sxm", "--gpus", "8", "--engine", "vllm", "--format", "json",
                                    "--engine-version", "0.10.1"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["kv_bytes_per_token"] == 2 * 62 * 8 * 128 * 2 and out["fits"] is True


def test_import_model_command_writes_yaml(tmp_path):
    out = tmp_path / "k.yaml"
    res = CliRunner().invoke(main, ["catalog", "import-model", str(DATA / "Kimi-K2-Instruct" / "config.json"),
                                    "--repo", "moonshotai/Kimi-K2-Instruct", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert load_catalog([out]).models["kimi-k2-instruct"].native_precision == "fp8"


# -- the bundled catalog ------------------------------------------------------------------------------
@pytest.mark.parametrize("bundled, folder", [
    ("deepseek-v3.2", "DeepSeek-V3.2"), ("deepseek-v4-flash", "DeepSeek-V4-Flash"), ("deepseek-v4-pro", "DeepSeek-V4-Pro"),
    ("qwen3.5-27b", "Qwen3.5-27B"), ("qwen3.5-397b-a17b", "Qwen3.5-397B-A17B"), ("kimi-k3", "Kimi-K3"),
    ("glm-5", "GLM-5"), ("glm-5.2", "GLM-5.2"), ("minimax-m3", "MiniMax-M3"), ("gemma-4-26b-a4b", "gemma-4-26B-A4B"),
    ("nemotron-3-nano-30b-a3b", "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"), ("step-3.7-flash", "Step-3.7-Flash"),
    ("mimo-v2-flash", "MiMo-V2-Flash"),
])
def test_bundled_models_match_their_public_config(bundled, folder):
    m, imported = load_catalog().models[bundled], _model(folder)
    assert m.attention == imported.attention and m.layers == imported.layers
    assert (m.params_b, m.active_params_b) == (imported.params_b, imported.active_params_b)
    assert m.variant(m.native_precision).size_gb == imported.variant(imported.native_precision).size_gb


def test_kimi_k2_int4_is_the_real_checkpoint_size():
    m = load_catalog().models["kimi-k2"]
    # Routed experts int4 + a bf16 scale per 32 weights (4.5 bits); the other 1026.4 − 1014.69 B
    # parameters in bf16; the generic 4.156 bits on every weight would be 10% less.
    want = 1014.69e9 * 4.5 / 8 + (1026.4 - 1014.69) * 1e9 * 2
    _close(sizing.weight_bytes(m, m.variant("int4")), want)
    assert sizing.weight_bytes(m, m.variant("int4")) > 1.1 * 1026.4e9 * 4.156 / 8


def test_every_bundled_model_has_the_widths_activation_memory_needs():
    for m in load_catalog().models.values():
        assert m.hidden_size > 0 and m.intermediate_size > 0 and m.vocab_size > 0
        if m.moe is not None:
            assert m.moe.moe_intermediate_size, m.id
    qwen = load_catalog().models
    assert qwen["qwen3-32b"].max_context == 131072 and qwen["qwen3-235b-a22b-2507"].max_context == 262144


def test_gpt_oss_120b_mxfp4_checkpoint_size_and_active_parameters():
    m = _model("gpt-oss-120b")
    # 36 layers alternating 128-token sliding and full attention, 8 KV heads × 64.
    assert sizing.kv_bytes_per_token(m, "bf16") == 36 * 2 * 8 * 64 * 2
    assert sizing.kv_bytes_per_request(m, "bf16", 4096) == 18 * 2048 * 4096 + 18 * 2048 * 128
    h, E = 2880, 128
    experts = 36 * E * (3 * h * h + 2 * h + h)                      # gate_up and down with biases
    attn = 36 * (h * 64 * 64 * 2 + 2 * h * 8 * 64 + 64 * 64 + 2 * 8 * 64 + h + 64)  # + biases and sinks
    rest = attn + 36 * (h * E + E) + 36 * 2 * h + h + 2 * 201088 * h
    # OpenAI's model card (arXiv 2508.10925, Table 1): 116.83B total, 5.13B active.
    _close(m.params_b * 1e9, experts + rest)
    _close(m.params_b, 116.83, 0.01)
    _close(m.active_params_b, 5.13, 0.01)
    # Checkpoint: experts MXFP4 (4.25 bits), the rest bf16; the card gives 60.8 GiB.
    _close(m.variant("mxfp4").size_gb * 1e9, (experts * 4.25 + rest * 16) / 8)
    _close(m.variant("mxfp4").size_gb * 1e9, 60.8 * 2**30, 0.02)


def test_llama_4_scout_chunked_attention_and_moe():
    m = _model("Llama-4-Scout-17B-16E-Instruct")
    # no_rope_layers: every 4th layer is global NoPE attention (12), the other 36 chunked at 8,192.
    assert (m.attention.window_layers, m.attention.window_tokens) == (36, 8192)
    assert sizing.kv_bytes_per_request(m, "bf16", 100_000) == 2 * 8 * 128 * 2 * (12 * 100_000 + 36 * 8192)
    h = 5120
    experts = 48 * 16 * 3 * h * 8192
    text = 48 * (h * 40 * 128 * 2 + 2 * h * 8 * 128) + experts + 48 * 3 * h * 8192 + 48 * h * 16 + 2 * 202048 * h
    _close((m.params_b - m.vision_params_b) * 1e9, text)
    _close(m.active_params_b * 1e9, text - experts + experts / 16 - 202048 * h)
    _close(m.active_params_b + 202048 * h / 1e9, 17, 0.02)          # Meta's 17B active counts the embedding


def test_solve_with_model_config_names_the_imported_model():
    res = CliRunner().invoke(main, ["solve", "--model-config", str(DATA / "NVIDIA-Nemotron-3-Nano-30B-A3B-BF16"),
                                    "--users", "20", "--prices", "street-usd-2025", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["plan"]["lines"]


@pytest.mark.parametrize("update, message", [
    ({"linear_layers": 4}, "linear_layers needs linear_kind and state_bytes_per_layer"),
    ({"indexer_layers": 4}, "indexer_layers needs indexer_bytes_per_token"),
    ({"compressed": [{"layers": 2, "ratio": 4, "indexer": True}]}, "needs indexer_bytes_per_token"),
])
def test_attention_schema_rejects_incomplete_layer_kinds(update, message):
    from catalog.schema import Attention

    with pytest.raises(ValueError, match=message):
        Attention(**{"kind": "gqa", "heads": 8, "kv_heads": 2, "head_dim": 128, **update})


def test_model_schema_rejects_more_layer_kinds_than_layers():
    m = load_catalog().models["qwen3.5-27b"]
    att = m.attention.model_dump()
    with pytest.raises(ValueError, match="exceeds layers"):
        type(m).model_validate({**m.model_dump(), "attention": {**att, "kv_layers": 20}})
    with pytest.raises(ValueError, match="window_layers"):
        type(m).model_validate({**m.model_dump(), "attention": {**att, "window_layers": 17, "window_tokens": 512}})


# -- older architectures: the same reader, against published checkpoint sizes ---------------------------
def test_llama_3_1_8b_and_mixtral_against_their_safetensors_index():
    llama = _model("Llama-3.1-8B-Instruct")
    h, V = 4096, 128256
    total = 32 * (h * 32 * 128 * 2 + 2 * h * 8 * 128 + 3 * h * 14336 + 2 * h + 2 * 128) + h + 2 * V * h
    _close(llama.params_b * 1e9, total)
    assert sizing.kv_bytes_per_token(llama, "bf16") == 2 * 32 * 8 * 128 * 2
    # model.safetensors.index.json metadata.total_size, https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct
    _close(llama.variant("bf16").size_gb * 1e9, 16_060_522_496, 0.02)
    mixtral = _model("Mixtral-8x7B-Instruct-v0.1")
    experts = 32 * 8 * 3 * h * 14336
    total = 32 * (h * 32 * 128 * 2 + 2 * h * 8 * 128 + h * 8) + experts + 2 * 32000 * h
    _close(mixtral.params_b * 1e9, total)
    _close(mixtral.active_params_b * 1e9, total - experts + experts * 2 / 8 - 32000 * h)
    # https://huggingface.co/mistralai/Mixtral-8x7B-Instruct-v0.1 model.safetensors.index.json total_size
    _close(mixtral.variant("bf16").size_gb * 1e9, 93_405_585_408, 0.02)
    assert mixtral.attention.window_layers == 0                      # sliding_window null


def test_qwen2_biases_and_glm_4_5():
    qwen = _model("Qwen2.5-72B-Instruct")
    h = 8192
    # q, k, v carry biases in Qwen2; use_sliding_window false leaves every layer full.
    attn = h * 64 * 128 * 2 + 2 * h * 8 * 128 + 64 * 128 + 2 * 8 * 128
    _close(qwen.params_b * 1e9, 80 * (attn + 3 * h * 29568) + 2 * 152064 * h)
    assert qwen.attention.window_layers == 0
    glm = _model("GLM-4.5")
    h = 5120
    experts = 89 * 160 * 3 * h * 1536
    attn = h * 96 * 128 * 2 + 2 * h * 8 * 128 + 96 * 128 + 2 * 8 * 128
    total = 92 * attn + 3 * 3 * h * 12288 + experts + 89 * 3 * h * 1536 + 89 * h * 160 + 2 * 151552 * h
    _close(glm.params_b * 1e9, total)
    assert sizing.kv_bytes_per_token(glm, "bf16") == 2 * 92 * 8 * 128 * 2


@pytest.mark.parametrize("arch, extra, sliding", [
    ("Gemma3ForCausalLM", {"sliding_window_pattern": 6}, 30),       # layers 6, 12, ... 36 global: 6 of 36
    ("Gemma2ForCausalLM", {}, 18),                                  # every other layer local
    ("MistralForCausalLM", {}, 36),                                 # one window on every layer
    ("LlamaForCausalLM", {}, 0),                                    # sliding_window ignored by Llama
])
def test_sliding_window_patterns_without_layer_types(tmp_path, arch, extra, sliding):
    cfg = {"architectures": [arch], "hidden_size": 1024, "num_hidden_layers": 36, "num_attention_heads": 8,
           "num_key_value_heads": 4, "head_dim": 128, "intermediate_size": 4096, "vocab_size": 32000,
           "sliding_window": 512, "max_position_embeddings": 8192, **extra}
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    m = import_model(tmp_path).model
    assert m.attention.window_layers == sliding
    per_layer = 2 * 4 * 128 * 2
    assert sizing.kv_bytes_per_request(m, "bf16", 2048) == per_layer * ((36 - sliding) * 2048 + sliding * 512)


def test_tensor_parallel_ranks_keep_their_share_of_each_layer_kinds_heads():
    m = load_catalog().models["gemma-4-26b-a4b"]
    # tp 8: sliding layers 8 KV heads -> 1 per rank; global layers 2 KV heads -> 1 per rank (replicated).
    per_rank = 25 * 2 * 1 * 256 * 2 + 5 * 2 * 1 * 512 * 2
    assert sizing.kv_rank_bytes_per_token(m, "bf16", sizing.Layout(tp=8, pp=1)) == per_rank
    # tp 2: 4 sliding heads and 1 global head per rank.
    assert sizing.kv_rank_bytes_per_token(m, "bf16", sizing.Layout(tp=2, pp=1)) == \
        25 * 2 * 4 * 256 * 2 + 5 * 2 * 1 * 512 * 2


def test_a_tensor_parallel_rank_holds_its_share_of_a_request():
    m = load_catalog().models["qwen3.5-27b"]
    # tp 8: 16 full layers keep ceil(4/8) = 1 KV head of 256 dims; the 48 Gated DeltaNet states split
    # 8 ways by heads.
    state = 48 * (3 * (2 * 16 * 128 + 48 * 128) * 2 + 48 * 128 * 128 * 4)
    assert sizing.kv_bytes_per_request(m, "bf16", 3000, tp=8) == 16 * 2 * 1 * 256 * 2 * 3000 + state / 8
    assert sizing.kv_bytes_per_request(m, "bf16", 3000) == 16 * 2 * 4 * 256 * 2 * 3000 + state
