"""``aefi audit``: the audit trail."""

from __future__ import annotations

import typer

from aefi.cli.db import open_session

app = typer.Typer(help="The audit trail.")


@app.command("verify")
def audit_verify(
    anchor: str = typer.Option(
        "",
        help="SEQ:HASH of a head noted down earlier (printed by a previous run): also proves "
        "the chain was not rewritten from there on",
    ),
) -> None:
    """Walk the audit trail's hash chain; exit 1 naming every altered, deleted or inserted
    record."""
    from aefi import audit

    expected: tuple[int, str] | None = None
    if anchor:
        seq, _sep, digest = anchor.partition(":")
        if not seq.isdigit() or len(digest) != 64:
            typer.echo("--anchor takes SEQ:HASH, e.g. 1200:3f5a… (64 hex digits)", err=True)
            raise typer.Exit(2)
        expected = (int(seq), digest.lower())
    with open_session() as session:
        result = audit.verify(session, anchor=expected)
    for f in result.findings:
        where = f"seq {f.seq}" if f.seq is not None else "unsealed"
        record = f", event {f.event_id}" if f.event_id is not None else ""
        typer.echo(f"{f.kind.upper()}: {where}{record}: {f.detail}", err=True)
    head = f"{result.head_seq}:{result.head_hash}"
    typer.echo(f"checked {result.checked} sealed records; head {head}")
    if not result.ok:
        typer.echo(f"audit trail NOT intact: {len(result.findings)} findings", err=True)
        raise typer.Exit(1)
    typer.echo("audit trail intact")
