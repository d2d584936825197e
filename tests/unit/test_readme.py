"""The README tells the truth about settings and commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import cast

from ticketstream.cli import parser
from ticketstream.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_settings_table_lists_every_setting_with_its_default() -> None:
    rows = dict(re.findall(r"^\| `(TICKETSTREAM_[A-Z_]+)` \| `([^`]*)` \|", README, re.M))
    expected = {
        f"TICKETSTREAM_{name.upper()}": str(field.default)
        for name, field in Settings.model_fields.items()
    }
    assert rows == expected


def test_readme_commands_exist() -> None:
    action = parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    commands = cast(dict[str, object], action.choices)
    for used in re.findall(r"(?:^|[`/]|\.toml )ticketstream ([a-z-]+)", README, re.M):
        assert used in commands, used
