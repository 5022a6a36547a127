package dev.salient.server.method;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.salient.server.engine.ModelPackage;
import dev.salient.server.util.SalientException;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Grad-CAM against a hand computation on the two-part fixture, and where it is offered. */
class GradCamTest {
  static final Path TWO_PART = Path.of("src/test/resources/models/tiny-two-part");
  static final Path SINGLE_PART = Path.of("src/test/resources/models/tiny-torchscript");

  static final ModelPackage model = ModelPackage.read(TWO_PART);

  @RegisterExtension
  static final LoadedEngine loaded = LoadedEngine.of(model);

  @Test
  void mapEqualsAHandComputationOnTheTinyNetwork() {
    float[] image = new float[36];
    Random random = new Random(21);
    for (int i = 0; i < 36; i++) {
      image[i] = random.nextFloat();
    }
    int nonZeroMaps = 0;
    for (int target = 0; target < 3; target++) {
      float[] expected = handGradCam(image, target);
      MethodHarness.Run run = new MethodHarness(loaded.engine(), model)
          .run(new GradCam(), Map.of(), image, target);

      assertArrayEquals(expected, run.map("gradcam").tensor().data(), 1e-5f, "class " + target);
      nonZeroMaps += GradientMaps.maxAbs(expected) > 1e-3 ? 1 : 0;
    }
    // Class 1's weighted sum is negative everywhere on this image: all zero after the ReLU.
    assertEquals(2, nonZeroMaps, "classes whose map has positive cells");
  }

  @Test
  void offeredOnlyForModelsWithAFeatureLayer() {
    ModelPackage withoutFeatureLayer = ModelPackage.read(SINGLE_PART);
    MethodRegistry registry = MethodRegistry.standard();

    assertTrue(new GradCam().supports(model));
    assertFalse(new GradCam().supports(withoutFeatureLayer));
    assertFalse(registry.supportedBy(withoutFeatureLayer).stream()
        .anyMatch(m -> m.name().equals(GradCam.NAME)));
    SalientException.InvalidArgument e = assertThrows(SalientException.InvalidArgument.class,
        () -> registry.lookup(GradCam.NAME, withoutFeatureLayer));
    assertTrue(e.getMessage().contains("cannot explain model tiny-torchscript (Grad-CAM needs a"
        + " feature layer"), e.getMessage());
  }

  @Test
  void bilinearUpsamplingMatchesPyTorchWithAlignedPixelCentres() {
    // torch.nn.functional.interpolate([[1, 2], [3, 4]], size, mode="bilinear",
    // align_corners=False)
    float[] square = Bilinear.resize(new float[] {1, 2, 3, 4}, 2, 2, 4, 4);
    float[] wide = Bilinear.resize(new float[] {1, 2, 3, 4}, 2, 2, 3, 5);

    assertArrayEquals(new float[] {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f,
        3.25f, 3.5f, 3, 3.25f, 3.75f, 4}, square, 1e-6f);
    assertArrayEquals(new float[] {1, 1.1f, 1.5f, 1.9f, 2, 2, 2.1f, 2.5f, 2.9f, 3, 3, 3.1f, 3.5f,
        3.9f, 4}, wide, 1e-6f);
  }

  @Test
  void lowResolutionMapWeighsEachChannelByItsMeanGradient() {
    // Two 1x2 channels: weights mean(1, 3) = 2 and mean(-2, 0) = -1.
    float[] features = {1, 2, 3, 1};
    float[] gradients = {1, 3, -2, 0};
    double[] weights = new double[2];

    float[] cam = GradCam.lowResolution(features, gradients, new long[] {2, 1, 2}, weights);

    assertArrayEquals(new double[] {2, -1}, weights, 0);
    // 2 * (1, 2) - (3, 1) = (-1, 3), then ReLU.
    assertArrayEquals(new float[] {0, 3}, cam, 0f);
  }

  /**
   * Grad-CAM of the fixture by hand (make_fixture.py): A_k = ReLU(conv_k(x) + b_k) at 6x6; the
   * head is linear, so dlogit_c/dA_k[y, x] = W[c, 36 k + 6 y + x] and w_k is its mean; the map is
   * ReLU(sum_k w_k A_k), already at the input's 6x6 resolution.
   */
  private static float[] handGradCam(float[] x, int c) {
    double[] bias = {0.1, -0.05};
    double[] cam = new double[36];
    for (int k = 0; k < 2; k++) {
      double weight = 0;
      for (int f = 0; f < 36; f++) {
        weight += 0.3 * Math.sin(1 + 72 * c + 36 * k + f);
      }
      weight /= 36;
      for (int y = 0; y < 6; y++) {
        for (int xx = 0; xx < 6; xx++) {
          double a = bias[k];
          for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
              int yy = y + i - 1;
              int xj = xx + j - 1;
              if (yy >= 0 && yy < 6 && xj >= 0 && xj < 6) {
                double w = 0.25 * (1 + k) * (i - 1) + 0.1 * (1 - 2 * k) * (j - 1) + 0.05;
                a += w * x[yy * 6 + xj];
              }
            }
          }
          cam[y * 6 + xx] += weight * Math.max(0, a);
        }
      }
    }
    float[] out = new float[36];
    for (int p = 0; p < 36; p++) {
      out[p] = (float) Math.max(0, cam[p]);
    }
    return out;
  }
}
