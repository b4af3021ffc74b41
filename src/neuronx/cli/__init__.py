"""The ``neuronx`` command line."""
