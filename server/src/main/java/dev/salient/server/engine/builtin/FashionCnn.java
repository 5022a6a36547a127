package dev.salient.server.engine.builtin;

import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.Block;
import ai.djl.nn.Blocks;
import ai.djl.nn.SequentialBlock;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.pooling.Pool;

/**
 * The built-in Fashion-MNIST classifier {@value #ID}: a small convolutional network mapping a
 * normalised (N, 1, 28, 28) batch to (N, 10) logits.
 *
 * <p>Layers: 3x3 convolution (32 filters, padding 1), ReLU, 2x2 max-pool, 3x3 convolution (64
 * filters, padding 1), ReLU, 2x2 max-pool, flatten (64 x 7 x 7), linear 64, ReLU, linear 10. Every
 * layer is piecewise linear (no BatchNorm, no Dropout), which gradient-geometry methods rely on.
 * About 220 k parameters (880 KB as float32).
 *
 * <p>The block expects input already normalised as (x - mean) / std; the serving engine applies the
 * mean and std from the model package's {@code model.json} before calling it. Changing the layers
 * makes saved {@code weights.params} files unloadable, so a new layout needs a new {@link #ID}.
 */
public final class FashionCnn {

  /** Architecture id stored in {@code model.json} ("architecture"). */
  public static final String ID = "fashion-cnn-v1";

  /** Number of output classes. */
  public static final int NUM_CLASSES = 10;

  /**
   * Grad-CAM's feature layer, as written to {@code model.json} ("feature_layer"): the index of
   * the ReLU after the last convolution in {@link #newBlock()}, whose 64 rectified 14x14 maps are
   * the last ones that still have a spatial layout (Selvaraju et al. use the last convolutional
   * layer's feature maps).
   */
  public static final int FEATURE_LAYER = 4;

  /** Input shape of a batch of one image: (1, 1, 28, 28). */
  public static final Shape INPUT_SHAPE = new Shape(1, 1, 28, 28);

  /**
   * From this many images a CPU pass runs with its activations in channels-last memory layout.
   * libtorch's max pooling with indices (which autograd needs) is a scalar loop per channel on
   * (N, C, H, W) memory, 22 % of a gradient pass of 8 images here, and vectorised across channels
   * on channels-last memory, which oneDNN's convolutions then keep. Gradient passes on a 2-vCPU
   * AMD EPYC (AVX2), one intra-op thread, channels-last against the usual layout, two rounds: 1
   * image 0.91-0.97x (so it keeps the usual layout), 2 images 1.15-1.16x, 4 1.17-1.24x, 8
   * 1.24-1.26x, 32 1.29-1.37x.
   */
  public static final int CHANNELS_LAST_FROM_IMAGES = 2;

  private static final int HIDDEN_UNITS = 64;

  private FashionCnn() {}

  /** Builds a new, uninitialised block with the {@value #ID} layout. */
  public static Block newBlock() {
    return new SequentialBlock()
        .add(conv3x3(32))
        .add(Activation.reluBlock())
        .add(Pool.maxPool2dBlock(new Shape(2, 2)))
        .add(conv3x3(64))
        .add(Activation.reluBlock())
        .add(Pool.maxPool2dBlock(new Shape(2, 2)))
        .add(Blocks.batchFlattenBlock())
        .add(Linear.builder().setUnits(HIDDEN_UNITS).build())
        .add(Activation.reluBlock())
        .add(Linear.builder().setUnits(NUM_CLASSES).build());
  }

  private static Block conv3x3(int filters) {
    return Conv2d.builder()
        .setKernelShape(new Shape(3, 3))
        .optPadding(new Shape(1, 1))
        .setFilters(filters)
        .build();
  }
}
