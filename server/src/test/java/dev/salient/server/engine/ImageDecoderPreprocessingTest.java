package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Salient's preprocessing against PIL 9.4 and torchvision 0.14: the images and expected tensors in
 * src/test/resources/preprocessing were written by make_reference.py there (cases.tsv lists them).
 */
class ImageDecoderPreprocessingTest {

  private static final String FOLDER = "preprocessing/";
  private static final float ONE_LEVEL = 1 / 255f;
  private static final Map<String, Case> CASES = readCases();

  private record Case(
      String image, int channels, int height, int width, String preprocessing, String expected) {}

  @Test
  void bilinearShrinkMatchesPilWithinOneLevel() {
    assertMatchesReference("stretch-bilinear-shrink", ONE_LEVEL);
  }

  @Test
  void bilinearEnlargeMatchesPilWithinOneLevel() {
    assertMatchesReference("stretch-bilinear-enlarge", ONE_LEVEL);
  }

  @Test
  void bicubicShrinkMatchesPilWithinOneLevel() {
    assertMatchesReference("stretch-bicubic-shrink", ONE_LEVEL);
  }

  @Test
  void bicubicEnlargeMatchesPilWithinOneLevel() {
    assertMatchesReference("stretch-bicubic-enlarge", ONE_LEVEL);
  }

  @Test
  void areaShrinkMatchesPilBoxWithinOneLevel() {
    assertMatchesReference("stretch-area-shrink", ONE_LEVEL);
  }

  @Test
  void areaEnlargeMatchesPilBoxWithinOneLevel() {
    assertMatchesReference("stretch-area-enlarge", ONE_LEVEL);
  }

  @Test
  void nearestShrinkMatchesPilExactly() {
    assertMatchesReference("stretch-nearest-shrink", 0f);
  }

  @Test
  void nearestEnlargeMatchesPilExactly() {
    assertMatchesReference("stretch-nearest-enlarge", 0f);
  }

  @Test
  void shortSideResizeAndCentreCropMatchTorchvisionBilinear() {
    assertMatchesReference("centre-crop-bilinear", ONE_LEVEL);
  }

  @Test
  void shortSideResizeAndCentreCropMatchTorchvisionBicubic() {
    assertMatchesReference("centre-crop-bicubic", ONE_LEVEL);
  }

  @Test
  void shortSideResizeAndCentreCropMatchTorchvisionBox() {
    assertMatchesReference("centre-crop-area", ONE_LEVEL);
  }

  @Test
  void areaFilterEdgesOnPixelCentresTakeThePixelOnTheRightAsPilDoes() {
    assertMatchesReference("centre-crop-area-ties", ONE_LEVEL);
  }

  @Test
  void shortSideResizeAndCentreCropMatchTorchvisionNearest() {
    assertMatchesReference("centre-crop-nearest", 0f);
  }

  @Test
  void centreCropOffsetsOfOneHalfRoundToEvenAsTorchvisionDoes() {
    assertMatchesReference("centre-crop-half-offsets", ONE_LEVEL);
  }

  @Test
  void portraitGreyImageResizesItsWidthAndCropsItsHeight() {
    assertMatchesReference("centre-crop-grey-portrait", ONE_LEVEL);
  }

  @Test
  void colourManagementNoneKeepsTheSamplesStoredInAJpegWithAnIccProfile() {
    // Different JPEG decoders (libjpeg-turbo in PIL, the JDK's libjpeg 6b) may round the
    // inverse DCT differently; at quality 95 with 4:4:4 chroma they agree within one level.
    assertMatchesReference("icc-none", ONE_LEVEL);
  }

  @Test
  void colourManagementIccToSrgbMatchesLittleCmsThroughPil() {
    // Both sides use LittleCMS, but the JDK's sRGB profile is not PIL's built-in one.
    assertMatchesReference("icc-to-srgb", 2 * ONE_LEVEL);
  }

  @Test
  void colourManagementNoneKeepsTheSamplesOfAPngWithAnIccpChunk() {
    assertMatchesReference("icc-png-none", 0f);
  }

  @Test
  void colourManagementIccToSrgbAppliesAPngsIccpChunkAsLittleCmsDoes() {
    assertMatchesReference("icc-png-to-srgb", 2 * ONE_LEVEL);
  }

  @Test
  void colourManagementChangesTheResultOfAJpegWithANonSrgbProfile() {
    Case none = CASES.get("icc-none");
    Case converted = CASES.get("icc-to-srgb");

    float[] stored = decode(none);
    float[] srgb = decode(converted);

    assertTrue(maxAbsDifference(stored, srgb) > 30 * ONE_LEVEL,
        "an Adobe-RGB-like profile moves saturated colours by tens of levels");
  }

  private static void assertMatchesReference(String name, float tolerance) {
    Case c = CASES.get(name);
    assertNotNull(c, "case " + name + " is missing from cases.tsv: rerun make_reference.py");
    float[] expected = readFloats(c.expected());

    float[] actual = decode(c);

    assertEquals(expected.length, actual.length, "values in " + name);
    float worst = maxAbsDifference(expected, actual);
    System.out.printf("%s: max abs difference %.6f (%.3f levels of 255)%n",
        name, worst, worst * 255);
    assertTrue(worst <= tolerance + 1e-6f,
        name + ": max abs difference " + worst + " exceeds " + tolerance);
  }

  private static float[] decode(Case c) {
    Preprocessing preprocessing;
    try {
      preprocessing = new ObjectMapper()
          .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
          .readValue(c.preprocessing(), ModelManifest.ImagePreprocessing.class)
          .toPreprocessing();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    float[] mean = new float[c.channels()];
    float[] std = new float[c.channels()];
    Arrays.fill(std, 1f);
    InputSpec spec = new InputSpec(
        c.channels(), c.height(), c.width(), 0f, 1f, mean, std, preprocessing);
    return ImageDecoder.decode(readBytes(c.image()), spec);
  }

  private static float maxAbsDifference(float[] a, float[] b) {
    float worst = 0;
    for (int i = 0; i < a.length; i++) {
      worst = Math.max(worst, Math.abs(a[i] - b[i]));
    }
    return worst;
  }

  private static Map<String, Case> readCases() {
    Map<String, Case> cases = new HashMap<>();
    String text = new String(readBytes("cases.tsv"), StandardCharsets.UTF_8);
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] f = line.split("\t");
      cases.put(f[0], new Case(f[1], Integer.parseInt(f[2]), Integer.parseInt(f[3]),
          Integer.parseInt(f[4]), f[5], f[6]));
    }
    return cases;
  }

  private static float[] readFloats(String file) {
    ByteBuffer bytes = ByteBuffer.wrap(readBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
    float[] values = new float[bytes.remaining() / 4];
    bytes.asFloatBuffer().get(values);
    return values;
  }

  private static byte[] readBytes(String file) {
    try (InputStream in =
        ImageDecoderPreprocessingTest.class.getClassLoader().getResourceAsStream(FOLDER + file)) {
      assertNotNull(in, FOLDER + file + " is not on the test class path");
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
