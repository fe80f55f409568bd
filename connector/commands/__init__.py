"""Subcommands of `vinculo`, one module per area."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from connector.commands.demo import COMMANDS as demo
    from connector.commands.loyalty import COMMANDS as loyalty
    from connector.commands.ops import COMMANDS as ops
    from connector.commands.privacy import COMMANDS as privacy
    from connector.commands.setup import COMMANDS as setup

    for command in (*setup, *ops, *loyalty, *privacy, *demo):
        group.add_command(command)
