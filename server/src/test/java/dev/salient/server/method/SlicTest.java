package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.TestImages;
import java.util.ArrayDeque;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** SLIC superpixels (Achanta et al. 2012), as LIME uses them. */
class SlicTest {

  /** Asserts that every label in [0, count) is one non-empty 4-connected region. */
  static void assertConnected(Slic.Segmentation s, int height, int width) {
    int[] labels = s.labels();
    boolean[] seen = new boolean[labels.length];
    boolean[] labelSeen = new boolean[s.count()];
    for (int start = 0; start < labels.length; start++) {
      if (seen[start]) {
        continue;
      }
      int label = labels[start];
      assertTrue(label >= 0 && label < s.count());
      assertTrue(!labelSeen[label], "superpixel " + label + " is in two pieces");
      labelSeen[label] = true;
      ArrayDeque<Integer> queue = new ArrayDeque<>();
      queue.add(start);
      seen[start] = true;
      while (!queue.isEmpty()) {
        int p = queue.poll();
        int y = p / width;
        int x = p % width;
        int[] neighbours = {x > 0 ? p - 1 : -1, x < width - 1 ? p + 1 : -1,
            y > 0 ? p - width : -1, y < height - 1 ? p + width : -1};
        for (int q : neighbours) {
          if (q >= 0 && !seen[q] && labels[q] == label) {
            seen[q] = true;
            queue.add(q);
          }
        }
      }
    }
    for (int label = 0; label < s.count(); label++) {
      assertTrue(labelSeen[label], "superpixel " + label + " is empty");
    }
  }

  /** Asserts about H*W / size^2 superpixels, none tiny, none much larger than the window. */
  static void assertAboutTheRequestedSize(Slic.Segmentation s, int height, int width, int size) {
    double expected = (double) height * width / (size * size);
    assertTrue(s.count() >= 0.5 * expected && s.count() <= 1.5 * expected,
        s.count() + " superpixels, about " + expected + " expected");
    for (int n : s.sizes()) {
      assertTrue(n <= 4 * size * size, "a superpixel of " + n + " pixels");
    }
  }

  @Test
  void superpixelsAreConnectedRegionsOfAboutTheRequestedSizeOnFashionMnist() {
    for (int i = 0; i < 10; i++) {
      for (int size : new int[] {3, 4, 7}) {
        Slic.Segmentation s = Slic.segment(TestImages.sample(i), 1, 28, 28, size, 10, 0f, 1f);
        assertConnected(s, 28, 28);
        assertAboutTheRequestedSize(s, 28, 28, size);
      }
    }
  }

  @Test
  void superpixelsAreConnectedRegionsOfAboutTheRequestedSizeOnColourNoise() {
    Random random = new Random(3);
    for (int trial = 0; trial < 5; trial++) {
      float[] image = new float[3 * 40 * 60];
      for (int p = 0; p < image.length; p++) {
        image[p] = random.nextFloat() * 255;
      }
      for (double compactness : new double[] {10, 30, 100}) {
        Slic.Segmentation s = Slic.segment(image, 3, 40, 60, 8, compactness, 0f, 255f);
        assertConnected(s, 40, 60);
        assertAboutTheRequestedSize(s, 40, 60, 8);
      }
    }
  }

  @Test
  void aConstantImageIsCutIntoTheRegularGrid() {
    Slic.Segmentation s = Slic.segment(new float[24 * 24], 1, 24, 24, 6, 10, 0f, 1f);

    assertEquals(16, s.count());
    for (int n : s.sizes()) {
      assertEquals(36, n);
    }
  }

  @Test
  void superpixelsFollowAStrongEdge() {
    // Left half dark, right half bright, the edge off the grid: no superpixel straddles it.
    float[] image = new float[30 * 30];
    for (int p = 0; p < image.length; p++) {
      image[p] = p % 30 < 13 ? 0.1f : 0.9f;
    }
    Slic.Segmentation s = Slic.segment(image, 1, 30, 30, 6, 10, 0f, 1f);
    boolean[] left = new boolean[s.count()];
    boolean[] right = new boolean[s.count()];
    for (int p = 0; p < image.length; p++) {
      (p % 30 < 13 ? left : right)[s.labels()[p]] = true;
    }
    for (int j = 0; j < s.count(); j++) {
      assertTrue(!(left[j] && right[j]), "superpixel " + j + " straddles the edge");
    }
  }
}
