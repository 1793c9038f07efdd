"""``python -m analysis`` runs the ``postmortem`` command line."""

from analysis.cli import main

if __name__ == "__main__":
    main()
