package dev.salient.server.method;

import java.util.Arrays;

/**
 * SLIC superpixels (Achanta et al., "SLIC Superpixels Compared to State-of-the-Art Superpixel
 * Methods", TPAMI 2012): k-means on colour and position, each centre searching only a window of
 * twice the grid interval around it, then connected components smaller than half the
 * nominal size (scikit-image's default) merged into their largest neighbour, so that every
 * superpixel is one connected region.
 *
 * <p>Differences from the paper, all deterministic: colour is the model's pixel values scaled to
 * [0, 100] per channel (not CIELAB: models see these values, and grey images have one channel);
 * centres start at the centres of a regular grid, not moved to the lowest gradient of their 3 x 3
 * neighbourhood; ten iterations, the paper's usual count, with no convergence test. The labels
 * depend only on the image and the parameters, never on how requests are batched.
 */
final class Slic {
  /** The paper's iteration count ("10 iterations suffice for most images"). */
  static final int ITERATIONS = 10;

  private Slic() {}

  /**
   * Superpixels of one image.
   *
   * @param labels one label per pixel, row-major {@code H*W}, in {@code [0, count)}, numbered in
   *     the order their first pixel appears
   * @param count the number of superpixels
   */
  record Segmentation(int[] labels, int count) {
    /** Pixels per superpixel. */
    int[] sizes() {
      int[] sizes = new int[count];
      for (int label : labels) {
        sizes[label]++;
      }
      return sizes;
    }
  }

  /**
   * Segments {@code image} ({@code C*H*W} with values in [pixelMin, pixelMax]) into superpixels
   * of about {@code size} x {@code size} pixels.
   *
   * @param compactness the paper's m: the weight of position against colour (on [0, 100])
   */
  static Segmentation segment(float[] image, int channels, int height, int width, int size,
      double compactness, float pixelMin, float pixelMax) {
    int plane = height * width;
    double scale = pixelMax > pixelMin ? 100.0 / (pixelMax - pixelMin) : 0;
    int rows = Math.max(1, (int) Math.round((double) height / size));
    int cols = Math.max(1, (int) Math.round((double) width / size));
    double stepY = (double) height / rows;
    double stepX = (double) width / cols;
    double interval = Math.sqrt(stepY * stepX);
    int window = (int) Math.ceil(Math.max(stepY, stepX));
    int k = rows * cols;
    // Centres: [colour..., y, x].
    double[][] centres = new double[k][channels + 2];
    int[] labels = new int[plane];
    for (int r = 0; r < rows; r++) {
      for (int c = 0; c < cols; c++) {
        double y = (r + 0.5) * stepY;
        double x = (c + 0.5) * stepX;
        int p = Math.min(height - 1, (int) y) * width + Math.min(width - 1, (int) x);
        double[] centre = centres[r * cols + c];
        for (int ch = 0; ch < channels; ch++) {
          centre[ch] = (image[ch * plane + p] - pixelMin) * scale;
        }
        centre[channels] = y;
        centre[channels + 1] = x;
      }
    }
    // Every pixel starts in its grid cell, so none is left without a label.
    for (int y = 0; y < height; y++) {
      for (int x = 0; x < width; x++) {
        labels[y * width + x] = Math.min(rows - 1, (int) ((y + 0.5) / stepY)) * cols
            + Math.min(cols - 1, (int) ((x + 0.5) / stepX));
      }
    }
    double spatial = compactness * compactness / (interval * interval);
    double[] distance = new double[plane];
    for (int iteration = 0; iteration < ITERATIONS; iteration++) {
      Arrays.fill(distance, Double.POSITIVE_INFINITY);
      for (int j = 0; j < k; j++) {
        double[] centre = centres[j];
        int cy = (int) centre[channels];
        int cx = (int) centre[channels + 1];
        for (int y = Math.max(0, cy - window); y < Math.min(height, cy + window + 1); y++) {
          for (int x = Math.max(0, cx - window); x < Math.min(width, cx + window + 1); x++) {
            int p = y * width + x;
            double colour = 0;
            for (int ch = 0; ch < channels; ch++) {
              double d = (image[ch * plane + p] - pixelMin) * scale - centre[ch];
              colour += d * d;
            }
            double dy = y + 0.5 - centre[channels];
            double dx = x + 0.5 - centre[channels + 1];
            double d = colour + (dy * dy + dx * dx) * spatial;
            if (d < distance[p]) {
              distance[p] = d;
              labels[p] = j;
            }
          }
        }
      }
      double[][] sums = new double[k][channels + 2];
      int[] counts = new int[k];
      for (int y = 0; y < height; y++) {
        for (int x = 0; x < width; x++) {
          int p = y * width + x;
          double[] sum = sums[labels[p]];
          for (int ch = 0; ch < channels; ch++) {
            sum[ch] += (image[ch * plane + p] - pixelMin) * scale;
          }
          sum[channels] += y + 0.5;
          sum[channels + 1] += x + 0.5;
          counts[labels[p]]++;
        }
      }
      for (int j = 0; j < k; j++) {
        if (counts[j] > 0) {
          for (int f = 0; f < channels + 2; f++) {
            centres[j][f] = sums[j][f] / counts[j];
          }
        }
      }
    }
    return connected(labels, height, width, Math.max(1, (int) (interval * interval / 2)));
  }

  /**
   * Relabels {@code labels} so that every label is one 4-connected region: each connected
   * component gets a label of its own, and a component smaller than {@code minSize} joins the
   * largest component it touches, in rounds (smallest first within a round) until none is small or
   * none can join; labels are then numbered in scan order. A union of touching connected regions is
   * connected, so every label stays one region.
   */
  static Segmentation connected(int[] labels, int height, int width, int minSize) {
    int plane = height * width;
    int[] component = new int[plane];
    Arrays.fill(component, -1);
    int[] queue = new int[plane];
    int components = 0;
    for (int start = 0; start < plane; start++) {
      if (component[start] >= 0) {
        continue;
      }
      int head = 0;
      int tail = 0;
      queue[tail++] = start;
      component[start] = components;
      while (head < tail) {
        int p = queue[head++];
        int y = p / width;
        int x = p % width;
        int[] neighbours = {x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1,
            y > 0 ? p - width : -1, y < height - 1 ? p + width : -1};
        for (int q : neighbours) {
          if (q >= 0 && component[q] < 0 && labels[q] == labels[start]) {
            component[q] = components;
            queue[tail++] = q;
          }
        }
      }
      components++;
    }
    int[] parent = new int[components];
    int[] size = new int[components];
    for (int c = 0; c < components; c++) {
      parent[c] = c;
    }
    for (int c : component) {
      size[c]++;
    }
    boolean merged = true;
    while (merged) {
      merged = false;
      // For each small root, its largest neighbouring root.
      int[] best = new int[components];
      Arrays.fill(best, -1);
      for (int p = 0; p < plane; p++) {
        int a = root(parent, component[p]);
        int[] neighbours = {p % width < width - 1 ? p + 1 : -1, p + width < plane ? p + width : -1};
        for (int q : neighbours) {
          if (q < 0) {
            continue;
          }
          int b = root(parent, component[q]);
          if (a == b) {
            continue;
          }
          if (size[a] < minSize && (best[a] < 0 || larger(size, b, best[a]))) {
            best[a] = b;
          }
          if (size[b] < minSize && (best[b] < 0 || larger(size, a, best[b]))) {
            best[b] = a;
          }
        }
      }
      Integer[] small = java.util.stream.IntStream.range(0, components)
          .filter(c -> best[c] >= 0).boxed().toArray(Integer[]::new);
      Arrays.sort(small, (x, y) -> size[x] != size[y] ? Integer.compare(size[x], size[y])
          : Integer.compare(x, y));
      for (int c : small) {
        int a = root(parent, c);
        int b = root(parent, best[c]);
        if (a != b && size[a] < minSize) {
          parent[a] = b;
          size[b] += size[a];
          merged = true;
        }
      }
    }
    int[] renumbered = new int[components];
    Arrays.fill(renumbered, -1);
    int[] out = new int[plane];
    int count = 0;
    for (int p = 0; p < plane; p++) {
      int r = root(parent, component[p]);
      if (renumbered[r] < 0) {
        renumbered[r] = count++;
      }
      out[p] = renumbered[r];
    }
    return new Segmentation(out, count);
  }

  /** Whether component {@code a} is larger than {@code b}, ties to the lower index. */
  private static boolean larger(int[] size, int a, int b) {
    return size[a] > size[b] || (size[a] == size[b] && a < b);
  }

  private static int root(int[] parent, int c) {
    while (parent[c] != c) {
      parent[c] = parent[parent[c]];
      c = parent[c];
    }
    return c;
  }
}
