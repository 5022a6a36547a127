package dev.salient.server.engine.builtin;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.ParallelBlock;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.BatchNorm;
import ai.djl.nn.pooling.Pool;
import java.util.List;

/**
 * ResNet-18 in torchvision's layout (He et al. 2016; {@code torchvision.models.resnet18}): a 7x7
 * stem, four stages of two basic blocks (64, 128, 256, 512 channels), global average pooling and
 * a 1000-way linear layer; 11.7 M parameters, input (N, 3, 224, 224). Salient uses it as the
 * compute-heavy model of its benchmarks (DJL's zoo ResNetV1 with 18 layers is a different,
 * 0.9 M-parameter network).
 */
public final class ResNet18 {
  /** Architecture id stored in {@code model.json}. */
  public static final String ID = "resnet18-torchvision";

  private ResNet18() {}

  /** Builds a new, uninitialised block. */
  public static Block newBlock() {
    SequentialBlock net = new SequentialBlock()
        .add(conv(64, 7, 2, 3))
        .add(BatchNorm.builder().build())
        .add(Activation.reluBlock())
        .add(Pool.maxPool2dBlock(new Shape(3, 3), new Shape(2, 2), new Shape(1, 1)));
    int in = 64;
    int[] widths = {64, 128, 256, 512};
    for (int stage = 0; stage < widths.length; stage++) {
      int stride = stage == 0 ? 1 : 2;
      net.add(basicBlock(in, widths[stage], stride));
      net.add(basicBlock(widths[stage], widths[stage], 1));
      in = widths[stage];
    }
    return net
        .add(Pool.globalAvgPool2dBlock())
        .add(Blocks.batchFlattenBlock())
        .add(Linear.builder().setUnits(1000).build());
  }

  private static Block basicBlock(int in, int out, int stride) {
    SequentialBlock main = new SequentialBlock()
        .add(conv(out, 3, stride, 1))
        .add(BatchNorm.builder().build())
        .add(Activation.reluBlock())
        .add(conv(out, 3, 1, 1))
        .add(BatchNorm.builder().build());
    Block shortcut = stride == 1 && in == out ? Blocks.identityBlock()
        : new SequentialBlock().add(conv(out, 1, stride, 0)).add(BatchNorm.builder().build());
    return new SequentialBlock()
        .add(new ParallelBlock(
            branches -> new NDList(branches.get(0).singletonOrThrow()
                .add(branches.get(1).singletonOrThrow())),
            List.of(main, shortcut)))
        .add(Activation.reluBlock());
  }

  private static Block conv(int filters, int kernel, int stride, int padding) {
    return Conv2d.builder()
        .setFilters(filters)
        .setKernelShape(new Shape(kernel, kernel))
        .optStride(new Shape(stride, stride))
        .optPadding(new Shape(padding, padding))
        .optBias(false)
        .build();
  }
}
