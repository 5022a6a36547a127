package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.salient.server.engine.builtin.FashionCnn;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A package of random weights reads back with the input it was written for. */
class RandomWeightsTest {

  @TempDir Path dir;

  @Test
  void writtenPackageKeepsThePreprocessingOfItsInput() throws IOException {
    InputSpec input = new InputSpec(1, 28, 28, 0f, 1f, new float[] {0.5f}, new float[] {0.25f},
        new Preprocessing(Preprocessing.Filter.AREA, 32, Preprocessing.Crop.CENTER,
            Preprocessing.ColorManagement.ICC_TO_SRGB));

    ModelPackage written = RandomWeights.writePackage(dir, "random", FashionCnn.ID, input,
        List.of("a", "b"), 7);

    assertEquals(input, written.input());
  }
}
