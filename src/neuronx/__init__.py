"""NeuronX: signed lead ingestion, durable processing, scoring and routing."""

from neuronx.errors import NeuronXError

__all__ = ["NeuronXError", "__version__"]

__version__ = "0.1.0"
