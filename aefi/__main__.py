from aefi.cli import app

app()
