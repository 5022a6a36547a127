package dev.salient.server.explanation;

/** How heatmap values become colours. */
public enum ColourScale {
  /**
   * Magnitude only, sign ignored: matplotlib's perceptually uniform 'inferno', from black at 0 to
   * pale yellow at the map's largest |value|.
   */
  SEQUENTIAL(
      0x000004, 0x0b0724, 0x210c4a, 0x3d0965, 0x57106e, 0x71196e, 0x8a226a, 0xa32c61, 0xbc3754,
      0xd04545, 0xe35933, 0xf1711f, 0xf98c0a, 0xfcaa0f, 0xf9c932, 0xf2e865, 0xfcffa4),

  /**
   * Signed: ColorBrewer 'RdBu' reversed, blue at -max|value|, near-white at 0, red at +max|value|.
   */
  DIVERGING(
      0x2166ac, 0x4393c3, 0x92c5de, 0xd1e5f0, 0xf7f7f7, 0xfddbc7, 0xf4a582, 0xd6604d, 0xb2182b);

  private final int[] stops;

  ColourScale(int... stops) {
    this.stops = stops;
  }

  /** Colour as 0xRRGGBB for a value already divided by the map's max |value|, so in [-1, 1]. */
  public int rgb(float t) {
    float u = this == SEQUENTIAL ? Math.abs(t) : (t + 1) / 2;
    float pos = Math.max(0f, Math.min(1f, u)) * (stops.length - 1);
    int i = Math.min((int) pos, stops.length - 2);
    float f = pos - i;
    int a = stops[i];
    int b = stops[i + 1];
    int rgb = 0;
    for (int shift = 16; shift >= 0; shift -= 8) {
      int ca = (a >> shift) & 0xff;
      int cb = (b >> shift) & 0xff;
      rgb |= Math.round(ca + (cb - ca) * f) << shift;
    }
    return rgb;
  }
}
