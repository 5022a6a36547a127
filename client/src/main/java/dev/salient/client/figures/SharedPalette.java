package dev.salient.client.figures;

import java.awt.image.BufferedImage;
import java.awt.image.DataBufferByte;
import java.awt.image.DataBufferInt;
import java.awt.image.IndexColorModel;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.IntStream;

/**
 * One palette of at most 256 colours for every frame of an animation, so that the GIF writer
 * does not quantise each frame itself. Frames whose pixels are all grey get the 256 greys, which
 * is exact; colour frames get a median cut of their colours at 5 bits per channel, and one more
 * entry, transparent, for "as in the frame before" (see {@link #animationFrame}).
 *
 * <p>Use: {@link #add} every frame, then {@link #indexed} or {@link #animationFrame} each.
 */
final class SharedPalette {
  private static final int COLOURS = 256;
  private static final int BINS = 1 << 15;

  private final List<Pixels> frames = new ArrayList<>();
  private final int[] population = new int[BINS];
  private boolean allGrey = true;
  private IndexColorModel model;
  private byte[] indexOfBin;

  /** Takes {@code frame}'s colours into the palette; every frame is added before any is indexed. */
  void add(BufferedImage frame) {
    if (model != null) {
      throw new IllegalStateException("the palette is already built");
    }
    int[] rgb = frame.getType() == BufferedImage.TYPE_INT_RGB
        ? ((DataBufferInt) frame.getRaster().getDataBuffer()).getData()
        : frame.getRGB(0, 0, frame.getWidth(), frame.getHeight(), null, 0, frame.getWidth());
    for (int pixel : rgb) {
      population[bin(pixel)]++;
      allGrey &= red(pixel) == green(pixel) && green(pixel) == blue(pixel);
    }
    frames.add(new Pixels(frame.getWidth(), frame.getHeight(), rgb));
  }

  /** The {@code i}-th frame added, in the shared palette. */
  BufferedImage indexed(int i) {
    BufferedImage image = blank(i);
    indices(i, pixelsOf(image));
    return image;
  }

  /**
   * The {@code i}-th frame as an animation that leaves each frame in place draws it: the pixels
   * whose palette entry is the previous frame's are transparent, which GIF's compression turns
   * into long cheap runs (most of a trajectory's pixels do not change from one step to the next).
   * All frames are whole when the palette is the 256 greys, which leave no entry free.
   */
  BufferedImage animationFrame(int i) {
    BufferedImage image = indexed(i);
    if (i == 0 || model.getTransparentPixel() < 0
        || frames.get(i - 1).width != image.getWidth()
        || frames.get(i - 1).height != image.getHeight()) {
      return image;
    }
    byte[] previous = new byte[frames.get(i - 1).rgb.length];
    indices(i - 1, previous);
    byte[] current = pixelsOf(image);
    byte unchanged = (byte) model.getTransparentPixel();
    for (int p = 0; p < current.length; p++) {
      if (current[p] == previous[p]) {
        current[p] = unchanged;
      }
    }
    return image;
  }

  private BufferedImage blank(int i) {
    if (model == null) {
      build();
    }
    return new BufferedImage(frames.get(i).width, frames.get(i).height,
        BufferedImage.TYPE_BYTE_INDEXED, model);
  }

  private static byte[] pixelsOf(BufferedImage indexed) {
    return ((DataBufferByte) indexed.getRaster().getDataBuffer()).getData();
  }

  private void indices(int i, byte[] into) {
    int[] rgb = frames.get(i).rgb;
    for (int p = 0; p < rgb.length; p++) {
      into[p] = allGrey ? (byte) blue(rgb[p]) : indexOfBin[bin(rgb[p])];
    }
  }

  private void build() {
    if (allGrey) {
      byte[] greys = new byte[COLOURS];
      for (int i = 0; i < COLOURS; i++) {
        greys[i] = (byte) i;
      }
      model = new IndexColorModel(8, COLOURS, greys, greys, greys);
      return;
    }
    int[] used = IntStream.range(0, BINS).filter(bin -> population[bin] > 0).toArray();
    List<Box> boxes = new ArrayList<>(List.of(new Box(used, 0, used.length)));
    while (boxes.size() < COLOURS - 1) {
      Box widest = boxes.stream().filter(b -> b.to - b.from > 1)
          .max(Comparator.comparingInt(Box::extent)).orElse(null);
      if (widest == null) {
        break;
      }
      boxes.remove(widest);
      boxes.addAll(widest.split(population));
    }
    // The entry after the boxes' stays black and is the transparent one.
    byte[] r = new byte[boxes.size() + 1];
    byte[] g = new byte[boxes.size() + 1];
    byte[] b = new byte[boxes.size() + 1];
    indexOfBin = new byte[BINS];
    for (int i = 0; i < boxes.size(); i++) {
      int mean = boxes.get(i).mean(population);
      r[i] = (byte) red(mean);
      g[i] = (byte) green(mean);
      b[i] = (byte) blue(mean);
      for (int k = boxes.get(i).from; k < boxes.get(i).to; k++) {
        indexOfBin[boxes.get(i).bins[k]] = (byte) i;
      }
    }
    model = new IndexColorModel(8, boxes.size() + 1, r, g, b, boxes.size());
  }

  private record Pixels(int width, int height, int[] rgb) {}

  /** A run of {@code bins[from..to)}: the colours one palette entry stands for. */
  private record Box(int[] bins, int from, int to) {
    long pixels(int[] population) {
      long total = 0;
      for (int k = from; k < to; k++) {
        total += population[bins[k]];
      }
      return total;
    }

    int extent() {
      return Math.max(spread(0), Math.max(spread(1), spread(2)));
    }

    private int spread(int channel) {
      int lo = Integer.MAX_VALUE;
      int hi = Integer.MIN_VALUE;
      for (int k = from; k < to; k++) {
        lo = Math.min(lo, channelOfBin(bins[k], channel));
        hi = Math.max(hi, channelOfBin(bins[k], channel));
      }
      return hi - lo;
    }

    /** The two halves, by pixel count, along the channel this box spans most of. */
    List<Box> split(int[] population) {
      int channel = spread(0) >= spread(1) && spread(0) >= spread(2) ? 0
          : spread(1) >= spread(2) ? 1 : 2;
      int[] sorted = Arrays.stream(bins, from, to).boxed()
          .sorted(Comparator.comparingInt(bin -> channelOfBin(bin, channel)))
          .mapToInt(Integer::intValue).toArray();
      System.arraycopy(sorted, 0, bins, from, sorted.length);
      long total = pixels(population);
      long seen = 0;
      int cut = from + 1;
      for (int k = from; k < to - 1 && seen + population[bins[k]] <= total / 2; k++) {
        seen += population[bins[k]];
        cut = k + 1;
      }
      return List.of(new Box(bins, from, cut), new Box(bins, cut, to));
    }

    /** The population-weighted mean colour, as 0xRRGGBB. */
    int mean(int[] population) {
      long[] sum = new long[3];
      long count = 0;
      for (int k = from; k < to; k++) {
        for (int c = 0; c < 3; c++) {
          sum[c] += (long) population[bins[k]] * expand(channelOfBin(bins[k], c));
        }
        count += population[bins[k]];
      }
      int[] mean = new int[3];
      for (int c = 0; c < 3; c++) {
        mean[c] = (int) Math.round(sum[c] / (double) count);
      }
      return (mean[0] << 16) | (mean[1] << 8) | mean[2];
    }
  }

  /** The colour's 5-bit red, green and blue, as one 15-bit number. */
  private static int bin(int rgb) {
    return ((red(rgb) >> 3) << 10) | ((green(rgb) >> 3) << 5) | (blue(rgb) >> 3);
  }

  /** Channel 0 (red), 1 (green) or 2 (blue) of a bin, in 5 bits. */
  private static int channelOfBin(int bin, int channel) {
    return (bin >> (10 - 5 * channel)) & 0x1f;
  }

  /** 5 bits back to 8, so that 0 is black and 31 is white. */
  private static int expand(int fiveBits) {
    return (fiveBits << 3) | (fiveBits >> 2);
  }

  private static int red(int rgb) {
    return (rgb >> 16) & 0xff;
  }

  private static int green(int rgb) {
    return (rgb >> 8) & 0xff;
  }

  private static int blue(int rgb) {
    return rgb & 0xff;
  }
}
