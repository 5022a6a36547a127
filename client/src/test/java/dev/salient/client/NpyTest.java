package dev.salient.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.salient.grpc.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NpyTest {

  @TempDir Path dir;

  @Test
  void headerMatchesNumpyByteForByte() {
    // What numpy 2.x np.save writes for a float32 array of shape (2, 3).
    String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    byte[] expected = new byte[128];
    byte[] prefix = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
    System.arraycopy(prefix, 0, expected, 0, prefix.length);
    byte[] text =
        (dict + " ".repeat(128 - 10 - dict.length() - 1) + "\n")
            .getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(text, 0, expected, 10, text.length);

    assertArrayEquals(expected, Npy.header(new long[] {2, 3}));
  }

  @Test
  void oneDimensionalShapeHasTrailingComma() {
    String dict = new String(Npy.header(new long[] {5}), StandardCharsets.US_ASCII);

    assertEquals(128, dict.length());
    assertTrue(dict.contains("'shape': (5,), }"), dict);
  }

  @Test
  void writeThenReadKeepsShapeAndData() throws Exception {
    Tensor t = FakeData.mapTensor();
    Path file = dir.resolve("m.npy");

    Npy.write(file, t);

    byte[] bytes = Files.readAllBytes(file);
    assertEquals(128 + 6 * 4, bytes.length);
    FloatBufferCheck.assertFloats(
        FakeData.MAP_VALUES, Arrays.copyOfRange(bytes, 128, bytes.length));
    assertEquals(t, Npy.read(file));
  }

  @Test
  void write_error() {
    Tensor wrongSize =
        Tensor.newBuilder()
            .addShape(2)
            .addShape(2)
            .setData(ByteString.copyFrom(new byte[12]))
            .build();

    assertThrows(IllegalArgumentException.class, () -> Npy.write(dir.resolve("x.npy"), wrongSize));
  }

  /** Decodes little-endian float32 bytes. */
  static final class FloatBufferCheck {
    static void assertFloats(float[] expected, byte[] data) {
      ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
      float[] actual = new float[data.length / 4];
      b.asFloatBuffer().get(actual);
      assertArrayEquals(expected, actual);
    }
  }
}
