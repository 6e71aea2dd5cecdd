"""Paper figures, the artifacts they read, and the driver that makes both (``python -m experiments.all``)."""
