package dev.salient.server.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.training.ParameterStore;
import dev.salient.server.engine.builtin.ResNet18;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The engine's layer walk: the model's forward pass, one layer at a time. */
class LayerWalkerTest {
  static InferenceEngine engine;
  static ModelPackage fashion;
  static ModelPackage tiny;
  static ModelPackage resnet;
  @TempDir static Path dir;

  @BeforeAll
  static void load() throws IOException {
    fashion = ModelPackage.readResource(ModelCatalog.DEFAULT_MODEL_RESOURCE);
    tiny = ModelPackage.read(Path.of("src/test/resources/models/tiny-torchscript"));
    InputSpec in = new InputSpec(3, 224, 224, 0f, 1f, new float[] {0.485f, 0.456f, 0.406f},
        new float[] {0.229f, 0.224f, 0.225f});
    resnet = RandomWeights.writePackage(dir.resolve("resnet18"), "resnet18", ResNet18.ID, in,
        IntStream.range(0, 1000).mapToObj(i -> "class" + i).toList(), 18);
    engine = InferenceEngine.load("cpu", List.of(fashion, tiny, resnet));
  }

  @AfterAll
  static void close() {
    engine.close();
  }

  @Test
  void aWalkEndsInTheLogitsOfTheModelsForwardPass() {
    List<float[]> images = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      images.add(TestImages.sample(i * 11));
    }
    // Eight images: the model's own pass runs channels-last, the walk in the usual layout.
    PassResult forward = engine.run(fashion.name(), Pass.forward(images));
    PassResult walked = engine.run(fashion.name(),
        new Pass(images, null, Pass.Extras.LAYER_WALK));

    assertEquals(8, walked.walks().size());
    for (int i = 0; i < 8; i++) {
      assertArrayEquals(forward.logits().get(i), walked.walks().get(i).logits(), 1e-4f);
      assertArrayEquals(walked.logits().get(i), walked.walks().get(i).logits(), 1e-4f);
    }
  }

  @Test
  void theDefaultModelWalksAsItsTenLayersWithTheirShapes() {
    LayerWalk walk = engine.run(fashion.name(), new Pass(List.of(TestImages.sample(0)), null,
        Pass.Extras.LAYER_WALK)).walks().get(0);

    assertEquals(List.of(LayerWalk.Kind.CONV, LayerWalk.Kind.RELU, LayerWalk.Kind.MAX_POOL,
        LayerWalk.Kind.CONV, LayerWalk.Kind.RELU, LayerWalk.Kind.MAX_POOL, LayerWalk.Kind.FLATTEN,
        LayerWalk.Kind.LINEAR, LayerWalk.Kind.RELU, LayerWalk.Kind.LINEAR),
        walk.layers().stream().map(LayerWalk.Layer::kind).toList());
    LayerWalk.Conv first = (LayerWalk.Conv) walk.layers().get(0);
    assertArrayEquals(new int[] {32, 28, 28}, first.out());
    assertEquals(3, first.kernelHeight());
    assertEquals(1, first.padding());
    assertEquals(2, ((LayerWalk.MaxPool) walk.layers().get(2)).kernel());
    assertEquals(64 * 7 * 7, ((LayerWalk.Linear) walk.layers().get(7)).inputs());
    // The first layer received the normalised image.
    float[] pixel = TestImages.sample(0);
    float expected = (pixel[100] - fashion.input().mean()[0]) / fashion.input().std()[0];
    assertEquals(expected, walk.activations().get(0)[100], 1e-6f);
    // A ReLU's output is its input with negatives set to 0.
    float[] in = walk.activations().get(1);
    float[] out = walk.output(1);
    for (int k = 0; k < in.length; k++) {
      assertEquals(Math.max(0f, in[k]), out[k]);
    }
  }

  @Test
  void theKindsOfAWalkAreKnownWithoutLoadingTheModel() {
    assertEquals(EnumSet.of(LayerWalk.Kind.CONV, LayerWalk.Kind.RELU, LayerWalk.Kind.MAX_POOL,
        LayerWalk.Kind.FLATTEN, LayerWalk.Kind.LINEAR), LayerWalk.kinds(fashion));
    assertEquals(EnumSet.allOf(LayerWalk.Kind.class), LayerWalk.kinds(resnet));
    assertEquals(EnumSet.noneOf(LayerWalk.Kind.class), LayerWalk.kinds(tiny));
  }

  @Test
  void aResNetWalkReadsEachBlocksInputTwiceAndLeavesNoNativeArraysBehind() {
    int before = engine.liveArrays();
    float[] image = new float[resnet.input().size()];
    LayerWalk walk = engine.run(resnet.name(), new Pass(List.of(image), null,
        Pass.Extras.LAYER_WALK)).walks().get(0);
    assertEquals(before, engine.liveArrays());

    // The first block: its input (the stem's pooled maps, activation 4) is read by the main
    // branch's first convolution and, through the identity shortcut, by the addition.
    assertEquals(LayerWalk.Kind.MAX_POOL, walk.layers().get(3).kind());
    LayerWalk.MaxPool pool = (LayerWalk.MaxPool) walk.layers().get(3);
    assertEquals(List.of(3, 2, 1), List.of(pool.kernel(), pool.stride(), pool.padding()));
    assertArrayEquals(new int[] {4}, walk.reads().get(4));
    assertEquals(LayerWalk.Kind.ADD, walk.layers().get(9).kind());
    assertArrayEquals(new int[] {9, 4}, walk.reads().get(9));
  }

  @Test
  void aBatchNormalisationWithAnotherEpsilonIsRefusedWhenTheWalkIsBuilt() {
    InputSpec in = new InputSpec(3, 3, 3, 0f, 1f, new float[] {0, 0, 0}, new float[] {1, 1, 1});
    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      for (float epsilon : new float[] {1e-5f, 1e-2f}) {
        Block norm = BatchNorm.builder().optEpsilon(epsilon).build();
        norm.initialize(manager, DataType.FLOAT32, new Shape(1, 3, 3, 3));
        ParameterStore store = new ParameterStore(manager, false);
        if (epsilon == 1e-5f) {
          LayerWalker walker = LayerWalker.of(List.of(norm), List.of(LayerWalk.Kind.BATCH_NORM),
              in, store, manager);
          LayerWalk.BatchNorm layer = (LayerWalk.BatchNorm) walker.layers().get(0);
          assertEquals(1 / Math.sqrt(1 + 1e-5), layer.scale()[1], 1e-7);
        } else {
          var error = assertThrows(IllegalArgumentException.class, () -> LayerWalker.of(
              List.of(norm), List.of(LayerWalk.Kind.BATCH_NORM), in, store, manager));
          assertTrue(error.getMessage().contains("another epsilon"), error.getMessage());
        }
      }
    }
  }

  @Test
  void onlyBuiltinArchitecturesCanBeWalked() {
    assertTrue(LayerWalk.walkable(fashion));
    assertFalse(LayerWalk.walkable(tiny));
    var error = assertThrows(IllegalArgumentException.class, () -> engine.run(tiny.name(),
        new Pass(List.of(new float[tiny.input().size()]), null, Pass.Extras.LAYER_WALK)));
    assertTrue(error.getMessage().contains("cannot be walked layer by layer"));
  }

  @Test
  void aWalkPassLeavesNoNativeArraysBehind() {
    int before = engine.liveArrays();
    engine.run(fashion.name(), new Pass(List.of(TestImages.sample(1), TestImages.sample(2)), null,
        Pass.Extras.LAYER_WALK));
    assertEquals(before, engine.liveArrays());
  }
}
