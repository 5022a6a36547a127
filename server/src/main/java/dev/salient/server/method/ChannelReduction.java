package dev.salient.server.method;

/** How a [C, H, W] gradient becomes one value per pixel. */
public enum ChannelReduction {
  /** max over channels of |g| (Simonyan et al. 2013; seed 001: "the maximum over the three"). */
  MAX_ABS,
  /** mean over channels of g, signed (the lecture notes of seed 004). */
  MEAN,
  /** no reduction: the raw signed gradient [C, H, W]. */
  SIGNED;

  /** Reduces {@code chw} (C*H*W values) to H*W values, or returns a copy for {@link #SIGNED}. */
  public float[] apply(float[] chw, int channels) {
    if (this == SIGNED) {
      return chw.clone();
    }
    int pixels = chw.length / channels;
    float[] out = new float[pixels];
    for (int p = 0; p < pixels; p++) {
      float acc = 0f;
      for (int c = 0; c < channels; c++) {
        float g = chw[c * pixels + p];
        acc = this == MAX_ABS ? Math.max(acc, Math.abs(g)) : acc + g;
      }
      out[p] = this == MAX_ABS ? acc : acc / channels;
    }
    return out;
  }
}
