"""phi-pipeline: streaming de-identification of electronic protected health information on Kafka.

Layers, imports pointing downward only: ``pipeline.core`` (pure, synchronous) ->
``pipeline.runtime`` (model sessions) -> ``pipeline.stream`` (faust/aiokafka wiring) ->
``pipeline.interfaces`` (command line, embedded broker).
"""

__version__ = "0.1.0"
