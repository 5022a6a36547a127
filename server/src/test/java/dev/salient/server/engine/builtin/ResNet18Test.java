package dev.salient.server.engine.builtin;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import org.junit.jupiter.api.Test;

/** The benchmark ResNet-18 has torchvision's layout. */
class ResNet18Test {

  @Test
  void hasTorchvisionsParameterCountAndOutputShape() {
    Block block = ResNet18.newBlock();
    try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
      block.initialize(manager, DataType.FLOAT32, new Shape(1, 3, 224, 224));
      long params = block.getParameters().values().stream()
          .filter(p -> p.getType() != Parameter.Type.RUNNING_MEAN
              && p.getType() != Parameter.Type.RUNNING_VAR)
          .mapToLong(p -> p.getArray().size()).sum();
      // sum(p.numel() for p in torchvision.models.resnet18().parameters())
      assertEquals(11_689_512L, params);
      assertEquals(new Shape(1, 1000),
          block.getOutputShapes(new Shape[] {new Shape(1, 3, 224, 224)})[0]);
    }
  }
}
