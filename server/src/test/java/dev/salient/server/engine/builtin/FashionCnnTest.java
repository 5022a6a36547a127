package dev.salient.server.engine.builtin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ai.djl.MalformedModelException;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

class FashionCnnTest {

  @Test
  void mapsABatchOfImagesToTenLogitsEach() {
    try (NDManager manager = NDManager.newBaseManager()) {
      Block block = FashionCnn.newBlock();
      block.initialize(manager, DataType.FLOAT32, FashionCnn.INPUT_SHAPE);

      NDArray logits = logits(block, manager, manager.randomNormal(new Shape(2, 1, 28, 28)));

      assertEquals(new Shape(2, 10), logits.getShape());
    }
  }

  @Test
  void savedParametersLoadIntoAFreshBlockExactly() throws IOException, MalformedModelException {
    try (NDManager manager = NDManager.newBaseManager()) {
      Engine.getInstance().setRandomSeed(1);
      Block original = FashionCnn.newBlock();
      original.initialize(manager, DataType.FLOAT32, FashionCnn.INPUT_SHAPE);
      byte[] saved = save(original);
      Engine.getInstance().setRandomSeed(2);
      Block reloaded = FashionCnn.newBlock();
      reloaded.initialize(manager, DataType.FLOAT32, FashionCnn.INPUT_SHAPE);

      reloaded.loadParameters(manager, new DataInputStream(new ByteArrayInputStream(saved)));

      assertArrayEquals(saved, save(reloaded));
      NDArray input = manager.randomNormal(new Shape(2, 1, 28, 28));
      assertArrayEquals(
          logits(original, manager, input).toFloatArray(),
          logits(reloaded, manager, input).toFloatArray());
    }
  }

  @Test
  void embeddedFashionMnistWeightsFitTheBlock() throws IOException, MalformedModelException {
    try (NDManager manager = NDManager.newBaseManager();
        InputStream weights =
            FashionCnnTest.class.getResourceAsStream("/models/fashion-mnist/weights.params")) {
      assertNotNull(weights, "models/fashion-mnist/weights.params is not on the class path");
      Block block = FashionCnn.newBlock();
      block.initialize(manager, DataType.FLOAT32, FashionCnn.INPUT_SHAPE);
      List<String> layout = parameterShapes(block);

      block.loadParameters(manager, new DataInputStream(new BufferedInputStream(weights)));

      // DJL replaces each parameter by the stored array without checking its shape.
      assertEquals(layout, parameterShapes(block));
    }
  }

  private static List<String> parameterShapes(Block block) {
    return block.getParameters().stream()
        .map(pair -> pair.getKey() + " " + pair.getValue().getArray().getShape())
        .toList();
  }

  private static NDArray logits(Block block, NDManager manager, NDArray input) {
    return block
        .forward(new ParameterStore(manager, false), new NDList(input), false)
        .singletonOrThrow();
  }

  private static byte[] save(Block block) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      block.saveParameters(out);
    }
    return bytes.toByteArray();
  }
}
