"""`python -m policydsl`: the same command line as `policydsl`."""

from policydsl.commands.cli import main

if __name__ == "__main__":
    main(prog_name="policydsl")
