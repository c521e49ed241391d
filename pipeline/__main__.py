"""`python -m pipeline` is the same as the `newsletter` command."""

from pipeline.cli import main

main()
