"""`vinculo privacy …`: answer data-access and erasure requests."""

from __future__ import annotations

import json

import click

from connector import privacy
from connector.clikit import Env, config_option, guarded, opened


@click.group("privacy")
def privacy_group() -> None:
    """Personal-data requests: export, redact a person, redact a whole store."""


def _who(email: str | None, phone: str | None, platform_ids: tuple[str, ...]) -> None:
    if not (email or phone or platform_ids):
        raise click.UsageError("give --email, --phone or --platform-id")


@privacy_group.command("export")
@config_option
@click.option("--email", default=None)
@click.option("--phone", default=None)
@click.option("--platform-id", "platform_ids", multiple=True, help="e.g. woo:main:12 (repeatable)")
@guarded
def export(
    config_path: str, email: str | None, phone: str | None, platform_ids: tuple[str, ...]
) -> None:
    """Print everything held on a person as JSON."""
    env: Env = click.get_current_context().ensure_object(Env)
    _who(email, phone, platform_ids)
    with opened(config_path) as rt:
        data = privacy.export_person(rt.db, platform_ids=platform_ids, email=email, phone=phone)
    if env.json:
        env.emit("privacy export", data)
    else:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@privacy_group.command("redact")
@config_option
@click.option("--email", default=None)
@click.option("--phone", default=None)
@click.option("--platform-id", "platform_ids", multiple=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@guarded
def redact(
    config_path: str, email: str | None, phone: str | None, platform_ids: tuple[str, ...], yes: bool
) -> None:
    """Erase a person's personal data; their anonymous ledger stays."""
    env: Env = click.get_current_context().ensure_object(Env)
    _who(email, phone, platform_ids)
    if not yes:
        click.confirm("Erase this person's personal data for good?", abort=True)
    with opened(config_path) as rt:
        report = privacy.redact_person(rt.db, platform_ids=platform_ids, email=email, phone=phone)
    if env.json:
        env.emit("privacy redact", report.as_dict())
    else:
        env.out.print(f"erased {len(report.customers)} customer record(s): {report.as_dict()}")


@privacy_group.command("redact-store")
@config_option
@click.argument("store")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@guarded
def redact_store(config_path: str, store: str, yes: bool) -> None:
    """Forget everything held for one store (after it uninstalled Vínculo)."""
    env: Env = click.get_current_context().ensure_object(Env)
    if not yes:
        click.confirm(f"Erase everything held for store {store!r}?", abort=True)
    with opened(config_path) as rt:
        report = privacy.redact_store(rt.db, store)
    if env.json:
        env.emit("privacy redact-store", report.as_dict())
    else:
        env.out.print(f"store {store} erased: {report.as_dict()}")


COMMANDS = [privacy_group]
