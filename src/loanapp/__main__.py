"""`python -m loanapp` is the `loanapp` command."""

from loanapp.cli import main

main()
