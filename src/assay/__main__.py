from assay.cli.main import app

app(prog_name="assay")
