"""salient_client against a live server: explain streaming, video, errors, cancel."""

import asyncio
import struct
import sys
import unittest
from pathlib import Path

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_server import ROOT, LiveServer, sample  # noqa: E402
from salient_client import SalientClient, SalientError  # noqa: E402

SERVER = LiveServer()
ANKLE_BOOT = (ROOT / "samples" / "fashion-mnist" / "090_Ankle_boot_idx0000.png").read_bytes()


def setUpModule():
    SERVER.start()


def tearDownModule():
    SERVER.stop()


def png_size(png: bytes):
    """(width, height) from a PNG's IHDR chunk."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", png[16:24])


class ClientTest(unittest.IsolatedAsyncioTestCase):
    async def asyncSetUp(self):
        self.client = SalientClient(SERVER.address)

    async def asyncTearDown(self):
        await self.client.close()

    async def test_describe_model_lists_methods_with_their_result_schema(self):
        models = await self.client.list_models()
        model = await self.client.describe_model()

        self.assertEqual("fashion-mnist", models[0].name)
        self.assertEqual([1, 28, 28], list(model.input_shape))
        vanilla = next(m for m in model.methods if m.name == "vanilla")
        self.assertIn("gradient_l2", [f.name for f in vanilla.result.values])

    async def test_classify_returns_the_top_classes_best_first(self):
        top = await self.client.classify(ANKLE_BOOT, top_k=3)

        self.assertEqual(3, len(top))
        self.assertEqual("Ankle boot", top[0].label)
        self.assertGreaterEqual(top[0].probability, top[1].probability)

    async def test_explain_streams_started_then_frames_then_one_result_with_numpy_maps(self):
        events = [e async for e in self.client.explain(sample(0), "smoothgrad",
                                                        params={"samples": 8, "batch": 2},
                                                        render_png=True)]

        kinds = [e.kind for e in events]
        self.assertEqual("started", kinds[0])
        self.assertEqual("result", kinds[-1])
        self.assertEqual(kinds.count("result"), 1)
        self.assertEqual(4, kinds.count("frame"), "a frame per batch of 2 samples")
        result = events[-1]
        saliency = result.maps["smoothgrad"]
        self.assertEqual((28, 28), saliency.shape)
        self.assertEqual(np.float32, saliency.dtype)
        self.assertTrue(np.isfinite(saliency).all())
        self.assertEqual((224, 224), png_size(result.overlays["smoothgrad"]))
        self.assertEqual(8, result.values["samples"])

    async def test_explain_takes_a_numpy_pixel_array_and_gives_the_same_maps_as_its_png(self):
        from_png = [e async for e in self.client.explain(sample(0), "vanilla")][-1]
        pixels = (await self._pixels_of(sample(0)))

        from_pixels = [e async for e in self.client.explain(pixels, "vanilla")][-1]

        np.testing.assert_allclose(from_png.maps["gradient"], from_pixels.maps["gradient"],
                                   rtol=0, atol=1e-6)

    async def _pixels_of(self, png: bytes) -> np.ndarray:
        """The model's input for png, as the server decodes it (a vanilla frame's image)."""
        events = [e async for e in self.client.explain(png, "vanilla", frame_tensors=True)]
        return next(e for e in events if e.kind == "frame").maps["image"]

    async def test_explain_a_chosen_target_by_rank(self):
        events = [e async for e in self.client.explain(sample(0), "vanilla", target="top:2")]

        started = events[0].message
        self.assertNotEqual(started.predicted.index, started.target.index)
        self.assertEqual(started.top[1].index, started.target.index)

    async def test_video_answers_every_frame_in_order(self):
        frames = [sample(i) for i in range(6)]

        answers = [a async for a in self.client.explain_video(frames, "vanilla",
                                                              never_drop=True)]

        self.assertEqual([1, 2, 3, 4, 5, 6], [a.sequence for a in answers])
        self.assertTrue(all(a.explained is not None for a in answers))
        self.assertEqual((28, 28), answers[0].maps["saliency"].shape)

    async def test_video_from_an_async_source_drops_stale_frames_but_answers_each(self):
        async def camera():
            for i in range(20):
                yield sample(i)

        answers = [a async for a in self.client.explain_video(camera(), "smoothgrad")]

        self.assertEqual(list(range(1, 21)), [a.sequence for a in answers])
        for a in answers:
            self.assertTrue(a.explained is not None or a.dropped_reason == "superseded",
                            f"frame {a.sequence}: {a.dropped_reason}")
        self.assertIsNotNone(answers[-1].explained, "the last frame is never superseded")

    async def test_errors_carry_the_status_code_and_the_servers_message(self):
        with self.assertRaises(SalientError) as unknown_method:
            [e async for e in self.client.explain(sample(0), "no_such_method")]
        with self.assertRaises(SalientError) as unknown_model:
            await self.client.classify(sample(0), model="no-such-model")
        with self.assertRaises(SalientError) as bad_image:
            await self.client.classify(b"not an image")
        with self.assertRaises(SalientError) as bad_parameter:
            [e async for e in self.client.explain(sample(0), "smoothgrad",
                                                   params={"samples": -1})]

        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, unknown_method.exception.code)
        self.assertIn("no_such_method", unknown_method.exception.details)
        self.assertEqual(grpc.StatusCode.NOT_FOUND, unknown_model.exception.code)
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, bad_image.exception.code)
        self.assertEqual(grpc.StatusCode.INVALID_ARGUMENT, bad_parameter.exception.code)
        self.assertIn("samples", bad_parameter.exception.details)

    async def test_a_deadline_ends_a_long_explanation_with_deadline_exceeded(self):
        with self.assertRaises(SalientError) as late:
            [e async for e in self.client.explain(sample(0), "bim", target="top:2",
                                                   params=LONG_BIM, timeout=1.0)]

        self.assertEqual(grpc.StatusCode.DEADLINE_EXCEEDED, late.exception.code)

    async def test_leaving_the_loop_cancels_the_request_on_the_server(self):
        before = (await self.client.stats()).cancelled

        async for event in self.client.explain(sample(0), "bim", target="top:2",
                                               params=LONG_BIM):
            self.assertEqual("started", event.kind)
            break

        # The cancel reaches the server's worker asynchronously: poll its counter, bounded.
        for _ in range(100):
            if (await self.client.stats()).cancelled > before:
                break
            await asyncio.sleep(0.05)
        self.assertEqual(before + 1, (await self.client.stats()).cancelled)


# 10000 tiny BIM steps never flip the class: a request that runs until something stops it.
LONG_BIM = {"alpha": "0.000001", "max_iterations": "10000"}


if __name__ == "__main__":
    unittest.main()
