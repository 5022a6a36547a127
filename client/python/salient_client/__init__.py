"""A Python client for Salient: explanations of image classifiers, streamed over gRPC.

    async with SalientClient("127.0.0.1:50051") as client:
        async for event in client.explain(png_bytes, method="vanilla"):
            ...

Run ./generate.sh once before importing (the gRPC stubs are generated, not committed).
"""

from .client import (
    Event,
    FrameAnswer,
    SalientClient,
    SalientError,
    tensor_to_numpy,
)

__all__ = ["Event", "FrameAnswer", "SalientClient", "SalientError", "tensor_to_numpy"]
