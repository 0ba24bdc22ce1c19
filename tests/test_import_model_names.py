"""What a model imported from local files is called, and which repository it names (`--model-config`,
`hwplan catalog import-model` without --repo / --id): the id is the model's, never a folder that merely holds
its config file, nor a Hugging Face cache revision hash."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from catalog.hf_import import import_model

CONFIG = Path(__file__).parent / "data" / "model-configs" / "Llama-3.1-8B-Instruct" / "config.json"


def test_a_config_file_not_called_config_json_names_the_model_by_its_stem(tmp_path):
    # One folder of downloaded configs, each saved as '<org>--<name>_config.json': the folder's name
    # ('model-configs') is not the model's.
    shared = tmp_path / "model-configs"
    shared.mkdir()
    shutil.copy(CONFIG, shared / "meta-llama--Llama-3.1-8B-Instruct_config.json")
    shutil.copy(CONFIG, shared / "Llama-3.1-8B.json")
    assert import_model(shared / "meta-llama--Llama-3.1-8B-Instruct_config.json").model.id == "llama-3.1-8b-instruct"
    assert import_model(shared / "Llama-3.1-8B.json").model.id == "llama-3.1-8b"
    # Not a repository: a file's name is not proof of where it came from.
    assert import_model(shared / "meta-llama--Llama-3.1-8B-Instruct_config.json").model.hf_repo == ""


def test_config_json_given_inside_its_folder_names_the_folder(tmp_path, monkeypatch):
    folder = tmp_path / "Llama-3.1-8B-Instruct"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "config.json")
    monkeypatch.chdir(folder)
    assert import_model("config.json").model.id == "llama-3.1-8b-instruct"   # Path('config.json').parent is '.'
    assert import_model(".").model.id == "llama-3.1-8b-instruct"


def test_a_hugging_face_cache_snapshot_names_its_repository(tmp_path):
    # huggingface_hub's cache: models--{org}--{name}/snapshots/{revision}/config.json
    snap = tmp_path / "hub" / "models--meta-llama--Llama-3.1-8B-Instruct" / "snapshots" / "0e9e39f249a16976918f6564b8830bc894c89659"
    snap.mkdir(parents=True)
    shutil.copy(CONFIG, snap / "config.json")
    for given in (snap, snap / "config.json"):
        model = import_model(given).model
        assert model.hf_repo == "meta-llama/Llama-3.1-8B-Instruct"
        assert model.id == "llama-3.1-8b-instruct"
        assert model.source == "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct/blob/main/config.json"
    # The cache links snapshot files to blobs/: a symlinked config.json reads the same.
    link = tmp_path / "hub" / "models--meta-llama--Llama-3.1-8B-Instruct" / "snapshots" / "abc"
    link.mkdir()
    os.symlink(snap / "config.json", link / "config.json")
    assert import_model(link).model.hf_repo == "meta-llama/Llama-3.1-8B-Instruct"


def test_an_explicit_repo_or_id_still_wins(tmp_path):
    snap = tmp_path / "models--meta-llama--Llama-3.1-8B-Instruct" / "snapshots" / "rev"
    snap.mkdir(parents=True)
    shutil.copy(CONFIG, snap / "config.json")
    assert import_model(snap, repo="me/My-Llama").model.hf_repo == "me/My-Llama"
    assert import_model(snap, model_id="my-llama").model.id == "my-llama"
    # Any other folder named 'snapshots' is not the cache: no repository is made up.
    plain = tmp_path / "backups" / "snapshots" / "Llama-3.1-8B-Instruct"
    plain.mkdir(parents=True)
    shutil.copy(CONFIG, plain / "config.json")
    assert import_model(plain).model.hf_repo == ""
    assert import_model(plain).model.id == "llama-3.1-8b-instruct"


def _index(path: Path, total_size: int) -> None:
    path.write_text('{"metadata": {"total_size": %d}, "weight_map": {}}' % total_size)


def test_a_renamed_config_reads_only_its_own_companions(tmp_path):
    # A folder of configs saved by name also holds another model's files: they are not this model's.
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy(CONFIG, alone / "config.json")
    by_params = import_model(alone).model.variants[0].size_gb          # no index, no shards: parameter counts
    shared = tmp_path / "downloads"
    shared.mkdir()
    _index(shared / "model.safetensors.index.json", 999_000_000_000)   # some other checkpoint's index
    (shared / "other.safetensors").write_bytes(b"\0" * 4096)
    shutil.copy(CONFIG, shared / "Llama-3.1-8B.json")
    shutil.copy(CONFIG, shared / "meta-llama--Llama-3.1-8B-Instruct_config.json")
    assert import_model(shared / "Llama-3.1-8B.json").model.variants[0].size_gb == by_params
    assert import_model(shared / "meta-llama--Llama-3.1-8B-Instruct_config.json").model.variants[0].size_gb == by_params
    # Its own index, saved with the same prefix, is read: 16,060,522,496 B = 16.061 GB.
    _index(shared / "meta-llama--Llama-3.1-8B-Instruct_model.safetensors.index.json", 16_060_522_496)
    imported = import_model(shared / "meta-llama--Llama-3.1-8B-Instruct_config.json")
    assert imported.model.variants[0].size_gb == 16.061
    assert str(shared / "meta-llama--Llama-3.1-8B-Instruct_model.safetensors.index.json") in imported.files
    # config.json in that folder still reads the folder's own index (the repository layout).
    shutil.copy(CONFIG, shared / "config.json")
    assert import_model(shared).model.variants[0].size_gb == 999.0


def test_launch_commands_serve_a_local_import_from_its_folder(tmp_path):
    """No repository named: the engine is launched on the folder the config came from (`vllm serve /path`), not on
    the model's id, which no engine can fetch; with --repo, on the repository."""
    from optimizer.launch import _repo

    folder = tmp_path / "Llama-3.1-8B-Instruct"
    folder.mkdir()
    shutil.copy(CONFIG, folder / "config.json")
    local = import_model(folder).model
    assert local.hf_repo == "" and local.local_path == str(folder.resolve())
    assert _repo(local, local.variants[0]) == str(folder.resolve())
    named = import_model(folder, repo="meta-llama/Llama-3.1-8B-Instruct").model
    assert named.local_path == "" and _repo(named, named.variants[0]) == "meta-llama/Llama-3.1-8B-Instruct"
