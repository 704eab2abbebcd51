from binlake.cli.main import run

run()
