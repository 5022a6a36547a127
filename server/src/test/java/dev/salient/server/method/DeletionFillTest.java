package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import org.junit.jupiter.api.Test;

/** What each deletion fill puts in place of a deleted region, pixels outside it untouched. */
class DeletionFillTest {
  // Two channels of 2 x 2 pixels on [0, 10]; region 0 is the top row, region 1 the bottom left,
  // the bottom right (-1) is kept.
  static final float[] IMAGE = {1, 3, 5, 9, 2, 6, 4, 8};
  static final int[] REGIONS = {0, 0, 1, -1};
  static final float[] BLURRED = {7, 7, 7, 7, 6, 6, 6, 6};

  static float[] delete(DeletionFill fill) {
    return fill.deleteRegions(IMAGE, 2, REGIONS, 2, 0f, 10f, BLURRED);
  }

  @Test
  void constantFillsReplaceEveryDeletedPixel() {
    assertArrayEquals(new float[] {0, 0, 0, 9, 0, 0, 0, 8}, delete(DeletionFill.BLACK));
    assertArrayEquals(new float[] {10, 10, 10, 9, 10, 10, 10, 8}, delete(DeletionFill.WHITE));
    assertArrayEquals(new float[] {5, 5, 5, 9, 5, 5, 5, 8}, delete(DeletionFill.GREY));
  }

  @Test
  void meanIsEachRegionsOwnMeanChannelByChannel() {
    assertArrayEquals(new float[] {2, 2, 5, 9, 4, 4, 4, 8}, delete(DeletionFill.MEAN));
  }

  @Test
  void inverseMirrorsThePixelInTheRangeAndBlurTakesTheBlurredPixel() {
    assertArrayEquals(new float[] {9, 7, 5, 9, 8, 4, 6, 8}, delete(DeletionFill.INVERSE));
    assertArrayEquals(new float[] {7, 7, 7, 9, 6, 6, 6, 8}, delete(DeletionFill.BLUR));
  }
}
