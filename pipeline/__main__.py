"""`python -m pipeline` is the same as the `newsletter` command."""

from pipeline.shell.launch import main

main()
