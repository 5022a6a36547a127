package dev.salient.tools.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FashionMnistIdxTest {

  @TempDir Path dir;

  @Test
  void readImagesScalesBytesToUnitRange() throws IOException {
    byte[] pixels = new byte[2 * FashionMnistIdx.PIXELS];
    pixels[0] = (byte) 255;
    pixels[1] = (byte) 51;
    pixels[FashionMnistIdx.PIXELS + 783] = (byte) 128;
    Path file = writeImages("images.gz", FashionMnistIdx.IMAGES_MAGIC, 2, 28, 28, pixels);

    float[] read = FashionMnistIdx.readImages(file);

    assertEquals(2 * 784, read.length);
    assertEquals(1f, read[0]);
    assertEquals(0.2f, read[1], 1e-7f);
    assertEquals(0f, read[2]);
    assertEquals(128 / 255f, read[784 + 783]);
  }

  @Test
  void readLabelsReturnsLabelsInFileOrder() throws IOException {
    Path file = writeLabels("labels.gz", FashionMnistIdx.LABELS_MAGIC, 3, new byte[] {9, 0, 7});

    assertArrayEquals(new int[] {9, 0, 7}, FashionMnistIdx.readLabels(file));
  }

  @Test
  void readTestFindsTheStandardFileNames() throws IOException {
    byte[] pixels = new byte[FashionMnistIdx.PIXELS];
    pixels[5] = (byte) 255;
    writeImages("t10k-images-idx3-ubyte.gz", FashionMnistIdx.IMAGES_MAGIC, 1, 28, 28, pixels);
    writeLabels("t10k-labels-idx1-ubyte.gz", FashionMnistIdx.LABELS_MAGIC, 1, new byte[] {4});

    FashionMnistIdx.Split split = FashionMnistIdx.readTest(dir);

    assertEquals(1, split.count());
    assertArrayEquals(new int[] {4}, split.labels());
    assertEquals(1f, split.pixels()[5]);
  }

  @Test
  void corruptImageMagicIsRejected() throws IOException {
    Path file = writeImages("images.gz", 0x00000804, 1, 28, 28, new byte[784]);

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.readImages(file));

    assertTrue(e.getMessage().contains("bad IDX magic number 0x00000804"), e.getMessage());
    assertTrue(e.getMessage().contains("expected 0x00000803"), e.getMessage());
  }

  @Test
  void labelFilePassedAsImagesIsRejectedByMagic() throws IOException {
    Path file = writeLabels("labels.gz", FashionMnistIdx.LABELS_MAGIC, 1, new byte[] {1});

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.readImages(file));

    assertTrue(e.getMessage().contains("bad IDX magic number 0x00000801"), e.getMessage());
  }

  @Test
  void imagesOfAnotherSizeAreRejected() throws IOException {
    Path file = writeImages("images.gz", FashionMnistIdx.IMAGES_MAGIC, 1, 32, 32, new byte[1024]);

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.readImages(file));

    assertTrue(e.getMessage().contains("images are 32x32, expected 28x28"), e.getMessage());
  }

  @Test
  void truncatedImageFileIsRejected() throws IOException {
    Path file = writeImages("images.gz", FashionMnistIdx.IMAGES_MAGIC, 2, 28, 28, new byte[784]);

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.readImages(file));

    assertTrue(e.getMessage().contains("truncated"), e.getMessage());
  }

  @Test
  void trailingBytesAfterLabelsAreRejected() throws IOException {
    Path file = writeLabels("labels.gz", FashionMnistIdx.LABELS_MAGIC, 1, new byte[] {1, 2});

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.readLabels(file));

    assertTrue(e.getMessage().contains("unexpected data after"), e.getMessage());
  }

  @Test
  void labelOutsideTheTenClassesIsRejected() throws IOException {
    Path file = writeLabels("labels.gz", FashionMnistIdx.LABELS_MAGIC, 2, new byte[] {3, 10});

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.readLabels(file));

    assertTrue(e.getMessage().contains("label 10 at index 1"), e.getMessage());
  }

  @Test
  void imageAndLabelCountsMustAgree() throws IOException {
    Path images = writeImages("images.gz", FashionMnistIdx.IMAGES_MAGIC, 1, 28, 28, new byte[784]);
    Path labels = writeLabels("labels.gz", FashionMnistIdx.LABELS_MAGIC, 2, new byte[] {1, 2});

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.read(images, labels));

    assertTrue(e.getMessage().contains("holds 1 images but"), e.getMessage());
  }

  @Test
  void fileThatIsNotGzipIsRejected() throws IOException {
    Path file = dir.resolve("plain.idx");
    Files.write(file, new byte[] {0, 0, 8, 3, 0, 0, 0, 0});

    IOException e = assertThrows(IOException.class, () -> FashionMnistIdx.readImages(file));

    assertTrue(e.getMessage().contains("not a gzip file"), e.getMessage());
  }

  private Path writeImages(String name, int magic, int count, int rows, int cols, byte[] pixels)
      throws IOException {
    Path file = dir.resolve(name);
    try (DataOutputStream out =
        new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(file)))) {
      out.writeInt(magic);
      out.writeInt(count);
      out.writeInt(rows);
      out.writeInt(cols);
      out.write(pixels);
    }
    return file;
  }

  private Path writeLabels(String name, int magic, int count, byte[] labels) throws IOException {
    Path file = dir.resolve(name);
    try (DataOutputStream out =
        new DataOutputStream(new GZIPOutputStream(Files.newOutputStream(file)))) {
      out.writeInt(magic);
      out.writeInt(count);
      out.write(labels);
    }
    return file;
  }
}
