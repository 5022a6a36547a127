package dev.salient.client.video;

import java.awt.image.BufferedImage;

/**
 * One frame read from a video input.
 *
 * @param image the frame's pixels; the caller owns it (inputs never reuse it)
 * @param timestampUs the frame's time in the source, microseconds from its start
 */
public record InputFrame(BufferedImage image, long timestampUs) {}
