"""`python -m headstart.cli` runs the command line."""

from headstart.cli import main

main()
