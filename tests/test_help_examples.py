"""Every example in every command's --help runs on what hwplan ships: bundled problems and price lists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
from click.testing import CliRunner

import cli
from catalog import load_catalog
from problems import bundled_problem_path


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield path + (name,), command
        if isinstance(command, click.Group):
            yield from _commands(command, path + (name,))


def _examples(path: tuple[str, ...]) -> list[list[str]]:
    """The example command lines of `hwplan <path> --help`, as tokens (continuation lines joined)."""
    text = CliRunner().invoke(cli.main, [*path, "--help"], terminal_width=400).output.replace("\\\n", " ")
    prefix = " ".join(("hwplan",) + path) + " "
    return [shlex.split(line.strip()) for line in text.splitlines()
            if line.strip().startswith(prefix) or line.strip() == prefix.strip()]


def test_help_examples_name_bundled_problems_and_price_lists():
    price_lists = set(load_catalog().price_lists)
    checked = 0
    for path, command in _commands(cli.main):
        takes_problem = any(isinstance(p, click.Argument) and p.name == "problem" for p in command.params)
        for tokens in _examples(path):
            args = tokens[1 + len(path):]
            if takes_problem and args and not args[0].startswith("-"):
                assert bundled_problem_path(Path(args[0]).name) is not None, (path, args[0])
                checked += 1
            for flag, value in zip(args, args[1:]):
                if flag in ("--prices", "--price-list") and "--catalog" not in args:
                    assert value in price_lists, (path, flag, value)
                    checked += 1
    # solve, shortlist, sweep, explain... name problems in their examples: the walk must have found them.
    assert checked >= 10


def test_the_class_flag_says_it_replaces_the_defaults():
    text = " ".join(CliRunner().invoke(cli.main, ["solve", "--help"], terminal_width=400).output.split())
    assert "REPLACES the default classes (datacenter, workstation)" in text
    assert "--class datacenter --class consumer" in text


def test_continued_example_lines_keep_their_line_break():
    """A docstring line ending in a single backslash is joined to the next by Python itself, so the example
    prints as one line with a run of spaces inside it (wider than 80 columns, the break lost): every example
    that continues must end its line with a visible `\\`."""
    joined = []
    for path, _command in _commands(cli.main):
        text = CliRunner().invoke(cli.main, [*path, "--help"], terminal_width=400).output
        joined += [line for line in text.splitlines()
                   if line.strip().startswith("hwplan ") and re.search(r"\S {3,}--", line)]
    assert joined == []
