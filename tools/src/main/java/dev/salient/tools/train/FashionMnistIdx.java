package dev.salient.tools.train;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPInputStream;

/**
 * Reads Fashion-MNIST in its original gzip-compressed IDX format (big-endian header, one unsigned
 * byte per pixel or label), as shipped by Debian's {@code dataset-fashion-mnist}.
 */
public final class FashionMnistIdx {

  /** Magic number of an IDX file of unsigned bytes with three dimensions (images). */
  public static final int IMAGES_MAGIC = 0x00000803;

  /** Magic number of an IDX file of unsigned bytes with one dimension (labels). */
  public static final int LABELS_MAGIC = 0x00000801;

  /** Image height and width in pixels. */
  public static final int SIDE = 28;

  /** Pixels per image: 28 x 28. */
  public static final int PIXELS = SIDE * SIDE;

  /** Class names in label order. */
  public static final List<String> CLASS_NAMES =
      List.of(
          "T-shirt/top",
          "Trouser",
          "Pullover",
          "Dress",
          "Coat",
          "Sandal",
          "Shirt",
          "Sneaker",
          "Bag",
          "Ankle boot");

  private FashionMnistIdx() {}

  /**
   * One split of the data set: {@code count()} images as row-major pixels in [0, 1] (image i at
   * {@code pixels[i * 784 .. i * 784 + 783]}) and their labels in [0, 9].
   */
  public record Split(float[] pixels, int[] labels) {

    /** Checks that there is one label per 28 x 28 image. */
    public Split {
      if (pixels.length != labels.length * PIXELS) {
        throw new IllegalArgumentException(
            "expected %d pixels for %d labels, got %d"
                .formatted(labels.length * PIXELS, labels.length, pixels.length));
      }
    }

    /** Number of images. */
    public int count() {
      return labels.length;
    }
  }

  /** Reads the 60,000-image training split from {@code dir}. */
  public static Split readTrain(Path dir) throws IOException {
    return read(
        dir.resolve("train-images-idx3-ubyte.gz"), dir.resolve("train-labels-idx1-ubyte.gz"));
  }

  /** Reads the 10,000-image test split from {@code dir}. */
  public static Split readTest(Path dir) throws IOException {
    return read(dir.resolve("t10k-images-idx3-ubyte.gz"), dir.resolve("t10k-labels-idx1-ubyte.gz"));
  }

  /** Reads an image file and its label file, checking that their counts agree. */
  public static Split read(Path imagesFile, Path labelsFile) throws IOException {
    float[] pixels = readImages(imagesFile);
    int[] labels = readLabels(labelsFile);
    int imageCount = pixels.length / PIXELS;
    if (imageCount != labels.length) {
      throw new IOException(
          "%s holds %d images but %s holds %d labels"
              .formatted(imagesFile, imageCount, labelsFile, labels.length));
    }
    return new Split(pixels, labels);
  }

  /** Reads a gzip IDX image file of 28 x 28 images into pixels in [0, 1] (N x 784, row-major). */
  public static float[] readImages(Path file) throws IOException {
    try (DataInputStream in = openGzip(file)) {
      checkMagic(file, in.readInt(), IMAGES_MAGIC, "images (unsigned bytes, 3 dimensions)");
      int count = readCount(file, in);
      int rows = in.readInt();
      int cols = in.readInt();
      if (rows != SIDE || cols != SIDE) {
        throw new IOException(
            file + ": images are " + rows + "x" + cols + ", expected " + SIDE + "x" + SIDE);
      }
      byte[] bytes = readBody(file, in, (long) count * PIXELS);
      float[] pixels = new float[bytes.length];
      for (int i = 0; i < bytes.length; i++) {
        pixels[i] = (bytes[i] & 0xFF) / 255f;
      }
      return pixels;
    } catch (EOFException e) {
      throw truncated(file, e);
    }
  }

  /** Reads a gzip IDX label file into labels, each checked to lie in [0, 9]. */
  public static int[] readLabels(Path file) throws IOException {
    try (DataInputStream in = openGzip(file)) {
      checkMagic(file, in.readInt(), LABELS_MAGIC, "labels (unsigned bytes, 1 dimension)");
      int count = readCount(file, in);
      byte[] bytes = readBody(file, in, count);
      int[] labels = new int[count];
      for (int i = 0; i < count; i++) {
        labels[i] = bytes[i] & 0xFF;
        if (labels[i] >= CLASS_NAMES.size()) {
          throw new IOException(
              "%s: label %d at index %d is not a class in [0, %d]"
                  .formatted(file, labels[i], i, CLASS_NAMES.size() - 1));
        }
      }
      return labels;
    } catch (EOFException e) {
      throw truncated(file, e);
    }
  }

  private static DataInputStream openGzip(Path file) throws IOException {
    InputStream raw = Files.newInputStream(file);
    try {
      return new DataInputStream(new BufferedInputStream(new GZIPInputStream(raw, 1 << 16)));
    } catch (IOException e) {
      raw.close();
      throw new IOException(file + ": not a gzip file (" + e.getMessage() + ")", e);
    }
  }

  private static void checkMagic(Path file, int actual, int expected, String kind)
      throws IOException {
    if (actual != expected) {
      throw new IOException(
          String.format(
              "%s: bad IDX magic number 0x%08X, expected 0x%08X for %s",
              file, actual, expected, kind));
    }
  }

  private static int readCount(Path file, DataInputStream in) throws IOException {
    int count = in.readInt();
    if (count < 0) {
      throw new IOException(file + ": negative item count " + count);
    }
    return count;
  }

  private static byte[] readBody(Path file, DataInputStream in, long length) throws IOException {
    if (length > Integer.MAX_VALUE - 8) {
      throw new IOException(file + ": header announces " + length + " bytes, too many to load");
    }
    byte[] bytes = new byte[(int) length];
    in.readFully(bytes);
    if (in.read() != -1) {
      throw new IOException(
          file + ": unexpected data after the " + length + " bytes the header announces");
    }
    return bytes;
  }

  private static IOException truncated(Path file, EOFException cause) {
    return new IOException(file + ": truncated, the file ends before the header's size", cause);
  }
}
