package dev.salient.server.video;

import java.util.function.Supplier;

/**
 * One frame of a live-video session as it arrived.
 *
 * @param sequence the client's sequence number (strictly increasing within a session)
 * @param captureTimeUs the client's capture timestamp, echoed in the answer
 * @param receivedNanos when the server received it, {@link System#nanoTime()}
 * @param pixels decodes the frame into the model's pixel space [C, H, W]; called only for frames
 *     that are explained (dropped frames are never decoded)
 * @param cheap whether decoding is a copy (a raw tensor) that the session may do on its own
 *     thread; otherwise (PNG, JPEG) it runs on the decoder executor
 */
public record VideoInput(long sequence, long captureTimeUs, long receivedNanos,
    Supplier<float[]> pixels, boolean cheap) {}
