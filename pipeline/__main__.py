"""`python -m pipeline` is the same as the `newsletter` command."""

from pipeline.launch import main

main()
