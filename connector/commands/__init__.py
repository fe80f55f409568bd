"""Subcommands of `vinculo`, one module per area."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    from connector.commands import demo, loyalty, ops, setup

    for module in (setup, ops, loyalty, demo):
        for command in module.COMMANDS:
            group.add_command(command)
