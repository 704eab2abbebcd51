from binlake.cli.entry import run

run()
