"""The client: one coroutine or async iterator per RPC, maps as numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterable, AsyncIterator, Dict, Iterable, List, Mapping, Optional, Union

import grpc
import numpy as np

try:
    from ._generated import salient_pb2 as pb
    from ._generated import salient_pb2_grpc as pb_grpc
except ImportError as e:  # pragma: no cover - explained to the user
    raise ImportError(
        "salient_client's gRPC stubs are missing: run client/python/generate.sh "
        "(needs Debian's protobuf-compiler and protobuf-compiler-grpc)") from e

ImageLike = Union[bytes, np.ndarray]


class SalientError(Exception):
    """A call that ended with a gRPC status other than OK: its code and the server's message."""

    def __init__(self, code: grpc.StatusCode, details: str):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


def tensor_to_numpy(tensor: "pb.Tensor") -> np.ndarray:
    """A salient.v1.Tensor as a float32 array of its shape (a copy, so it is writable)."""
    return np.frombuffer(tensor.data, dtype="<f4").reshape(tuple(tensor.shape)).copy()


def _image(image: ImageLike) -> "pb.Image":
    if isinstance(image, (bytes, bytearray, memoryview)):
        return pb.Image(encoded=bytes(image))
    if isinstance(image, np.ndarray):
        pixels = np.ascontiguousarray(image, dtype="<f4")
        if pixels.ndim != 3:
            raise ValueError(f"a pixel array must be [C, H, W]; this one has shape {pixels.shape}")
        return pb.Image(tensor=pb.Tensor(shape=list(pixels.shape), data=pixels.tobytes()))
    raise TypeError("an image is encoded bytes (PNG, JPEG, ...) or a float32 numpy array [C, H, W]")


def _target(target: Union[None, int, str]) -> Optional["pb.Target"]:
    if target is None:
        return None
    if isinstance(target, str):
        if target.startswith("top:"):
            return pb.Target(rank=int(target[4:]))
        return pb.Target(label=target)
    return pb.Target(class_index=int(target))


@dataclass
class Event:
    """One event of an explanation: kind is "started", "frame" or "result"; message is the
    salient.v1 Started, Frame or Result message."""

    kind: str
    message: object

    @property
    def values(self) -> Dict[str, float]:
        """The frame's or result's numbers (empty for started)."""
        return dict(getattr(self.message, "values", {}))

    @property
    def maps(self) -> Dict[str, np.ndarray]:
        """The result's maps by name, as float32 arrays ([H, W] or [C, H, W]); a frame's map and
        image (when frame_tensors was asked) as "map" and "image"."""
        if self.kind == "result":
            return {m.name: tensor_to_numpy(m.tensor) for m in self.message.maps}
        if self.kind == "frame":
            out = {}
            for name in ("map", "image"):
                if self.message.HasField(name):
                    out[name] = tensor_to_numpy(getattr(self.message, name))
            return out
        return {}

    @property
    def overlays(self) -> Dict[str, bytes]:
        """The result's PNG overlays by map name (when render_png was asked)."""
        if self.kind != "result":
            return {}
        return {m.name: m.overlay_png for m in self.message.maps if m.overlay_png}


@dataclass
class FrameAnswer:
    """The answer to one video frame: explained (message is an ExplainedFrame) or dropped
    (reason "superseded" or "server_busy")."""

    sequence: int
    capture_time_us: int
    explained: Optional[object]
    dropped_reason: Optional[str]
    server_latency_us: int

    @property
    def maps(self) -> Dict[str, np.ndarray]:
        if self.explained is None:
            return {}
        return {m.name: tensor_to_numpy(m.tensor) for m in self.explained.maps}


class SalientClient:
    """A connection to a Salient server. Use it as an async context manager, or call close().

    token: a bearer token (salient.auth); tls: grpc.ssl_channel_credentials() for TLS."""

    def __init__(self, address: str, token: Optional[str] = None,
                 tls: Optional[grpc.ChannelCredentials] = None,
                 max_message_bytes: int = 64 * 1024 * 1024):
        options = [("grpc.max_receive_message_length", max_message_bytes)]
        self._channel = (grpc.aio.secure_channel(address, tls, options=options) if tls
                         else grpc.aio.insecure_channel(address, options=options))
        self._stub = pb_grpc.ExplainerStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else None

    async def __aenter__(self) -> "SalientClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    async def _unary(self, rpc, request, timeout):
        try:
            return await rpc(request, metadata=self._metadata, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            raise SalientError(e.code(), e.details()) from None

    async def list_models(self, timeout: Optional[float] = 30) -> List["pb.ModelInfo"]:
        """The models served, default first."""
        return list((await self._unary(self._stub.ListModels, pb.ListModelsRequest(),
                                       timeout)).models)

    async def describe_model(self, model: str = "",
                             timeout: Optional[float] = 30) -> "pb.ModelInfo":
        """One model: input shape, labels, methods with their parameters and result schema."""
        return (await self._unary(self._stub.DescribeModel,
                                  pb.DescribeModelRequest(model=model), timeout)).model

    async def classify(self, image: ImageLike, model: str = "", top_k: int = 5,
                       timeout: Optional[float] = 30) -> List["pb.ClassScore"]:
        """The top_k classes of one image, best first."""
        request = pb.ClassifyRequest(model=model, image=_image(image), top_k=top_k)
        return list((await self._unary(self._stub.Classify, request, timeout)).top)

    async def stats(self, timeout: Optional[float] = 30) -> "pb.StatsResponse":
        """The server's request counters and per-worker batching."""
        return await self._unary(self._stub.Stats, pb.StatsRequest(), timeout)

    async def explain(self, image: ImageLike, method: str, model: str = "",
                      target: Union[None, int, str] = None,
                      params: Optional[Mapping[str, object]] = None, top_k: int = 0,
                      frame_stride: int = 0, frame_tensors: bool = False,
                      render_png: bool = False, omit_snapshots: bool = False,
                      deterministic: bool = False,
                      timeout: Optional[float] = None) -> AsyncIterator[Event]:
        """Explains one image, yielding each event as the server sends it: one "started", the
        "frame"s, one "result". target: a class index, a label, or "top:N". Leaving the loop
        early (break) cancels the request on the server."""
        request = pb.ExplainRequest(
            model=model, image=_image(image), method=method, target=_target(target),
            params={k: str(v) for k, v in (params or {}).items()}, top_k=top_k,
            frame_stride=frame_stride, frame_tensors=frame_tensors, render_png=render_png,
            omit_snapshots=omit_snapshots, deterministic=deterministic)
        call = self._stub.Explain(request, metadata=self._metadata, timeout=timeout)
        try:
            async for event in call:
                kind = event.WhichOneof("event")
                yield Event(kind, getattr(event, kind))
        except grpc.aio.AioRpcError as e:
            raise SalientError(e.code(), e.details()) from None
        finally:
            call.cancel()

    async def explain_video(self, frames: Union[AsyncIterable[ImageLike], Iterable[ImageLike]],
                            method: str, model: str = "", params: Optional[Mapping] = None,
                            target: Union[None, int, str] = None, max_in_flight: int = 0,
                            never_drop: bool = False, smoothing: float = 0.0, top_k: int = 0,
                            render_png: bool = False,
                            timeout: Optional[float] = None) -> AsyncIterator[FrameAnswer]:
        """Explains a live stream of frames: sends each as it comes (numbered 1, 2, ...) and
        yields every frame's answer in order, explained or dropped (latest frame wins unless
        never_drop). The stream ends when frames end and the last answers are in."""
        session = pb.VideoSession(
            model=model, method=method, params={k: str(v) for k, v in (params or {}).items()},
            target=_target(target), max_in_flight=max_in_flight,
            drop_policy=pb.NEVER_DROP if never_drop else pb.LATEST_FRAME_WINS,
            smoothing=smoothing, top_k=top_k, render_png=render_png)

        async def requests():
            yield pb.VideoFrame(session=session)
            sequence = 0
            if hasattr(frames, "__aiter__"):
                async for frame in frames:
                    sequence += 1
                    yield pb.VideoFrame(sequence=sequence, image=_image(frame))
            else:
                for frame in frames:
                    sequence += 1
                    yield pb.VideoFrame(sequence=sequence, image=_image(frame))

        call = self._stub.ExplainVideo(requests(), metadata=self._metadata, timeout=timeout)
        try:
            async for answer in call:
                outcome = answer.WhichOneof("outcome")
                yield FrameAnswer(
                    answer.sequence, answer.capture_time_us,
                    answer.explained if outcome == "explained" else None,
                    answer.dropped.reason if outcome == "dropped" else None,
                    answer.server_latency_us)
        except grpc.aio.AioRpcError as e:
            raise SalientError(e.code(), e.details()) from None
        finally:
            call.cancel()
