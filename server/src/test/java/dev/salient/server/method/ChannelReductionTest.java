package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** The channel reductions of a [C, H, W] gradient, on a hand-made 3-channel, 2-pixel case. */
class ChannelReductionTest {
  // channel-major: pixel 0 has (1, -4, 2), pixel 1 has (-0.5, 0.25, 0)
  static final float[] GRADIENT = {1f, -0.5f, -4f, 0.25f, 2f, 0f};

  @Test
  void maxAbsTakesTheLargestMagnitudeOverChannels() {
    assertArrayEquals(new float[] {4f, 0.5f}, ChannelReduction.MAX_ABS.apply(GRADIENT, 3));
  }

  @Test
  void meanKeepsTheSign() {
    assertArrayEquals(new float[] {-1f / 3, -0.25f / 3}, ChannelReduction.MEAN.apply(GRADIENT, 3),
        1e-7f);
  }

  @Test
  void signedReturnsTheRawGradient() {
    assertArrayEquals(GRADIENT, ChannelReduction.SIGNED.apply(GRADIENT, 3));
  }
}
