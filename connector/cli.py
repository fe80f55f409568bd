"""The `vinculo` command: a group whose subcommands live in ``connector/commands/``.

Exit codes are documented in `vinculo --help` and mapped from the error tree in one place
(``connector.clikit.exit_code_for``).
"""

from __future__ import annotations

import click

from connector.clikit import EXIT_CODES_HELP, Env
from connector.commands import register


@click.group(epilog=EXIT_CODES_HELP)
@click.option(
    "--json", "json_output", is_flag=True, help="Machine-readable output (versioned JSON)."
)
@click.option("--debug", is_flag=True, help="Let tracebacks through.")
@click.version_option(package_name="vinculo")
@click.pass_context
def main(ctx: click.Context, json_output: bool, debug: bool) -> None:
    """Vínculo keeps customers and orders in step between your ERP and your stores,
    and runs a loyalty program shown on every platform."""
    ctx.obj = Env(json_output=json_output, debug=debug)


register(main)
