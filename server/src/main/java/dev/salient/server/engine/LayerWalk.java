package dev.salient.server.engine;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One image's forward pass, layer by layer, as plain arrays: the model's layers with their
 * weights, the activations they read, and every activation. White-box methods (Rectified
 * Gradient, Deep Taylor, VisualBackProp) walk it backwards with their own rules. No native
 * memory: the weights are copies made once when the model loads, the activations copies made by
 * the pass.
 *
 * <p>The layers form a graph in topological order: activation 0 is the image, activation
 * {@code i + 1} is what layer {@code i} gave, and layer {@code i} reads the activations
 * {@code reads.get(i)}, all made before it (two for {@link Kind#ADD}, one for the others). A
 * sequence reads {@code i} at layer {@code i}; a residual network's branch point is an
 * activation read by two layers (fan-out), its residual addition a layer that reads two.
 *
 * <p>Activations are in the model's normalised input space ({@code (x - mean) / std} at the
 * input), each row-major in its layer's shape.
 *
 * @param layers the layers, input first, in topological order
 * @param reads {@code reads.get(i)}: the indices of the activations layer {@code i} reads
 * @param activations the image, then each layer's output; the last one the logits
 */
public record LayerWalk(List<Layer> layers, List<int[]> reads, List<float[]> activations) {

  /** Checks that each layer reads earlier activations of the sizes it takes. */
  public LayerWalk {
    layers = List.copyOf(layers);
    reads = List.copyOf(reads);
    activations = List.copyOf(activations);
    if (activations.size() != layers.size() + 1 || reads.size() != layers.size()) {
      throw new IllegalArgumentException("a walk of " + layers.size() + " layers needs "
          + (layers.size() + 1) + " activations and " + layers.size() + " reads, got "
          + activations.size() + " and " + reads.size());
    }
    for (int i = 0; i < layers.size(); i++) {
      Layer layer = layers.get(i);
      int[] read = reads.get(i);
      if (read.length != (layer.kind() == Kind.ADD ? 2 : 1)) {
        throw new IllegalArgumentException("layer " + i + " (" + layer.kind() + ") reads "
            + read.length + " activations");
      }
      for (int a : read) {
        if (a < 0 || a > i) {
          throw new IllegalArgumentException("layer " + i + " (" + layer.kind() + ") reads "
              + "activation " + a + ", which is not made before it");
        }
        if (activations.get(a).length != layer.inputSize()) {
          throw new IllegalArgumentException("layer " + i + " (" + layer.kind() + ") takes "
              + layer.inputSize() + " values; activation " + a + " has "
              + activations.get(a).length);
        }
      }
      if (activations.get(i + 1).length != layer.outputSize()) {
        throw new IllegalArgumentException("layer " + i + " (" + layer.kind() + ") gives "
            + layer.outputSize() + " values; its output has " + activations.get(i + 1).length);
      }
    }
  }

  /** A sequence: layer {@code i} reads {@code activations.get(i)}. */
  public LayerWalk(List<Layer> layers, List<float[]> activations) {
    this(layers, sequence(layers.size()), activations);
  }

  /** The reads of a sequence of {@code layers} layers: layer {@code i} reads activation i. */
  public static List<int[]> sequence(int layers) {
    List<int[]> reads = new ArrayList<>(layers);
    for (int i = 0; i < layers; i++) {
      reads.add(new int[] {i});
    }
    return reads;
  }

  /** The logits: the last layer's output. */
  public float[] logits() {
    return activations.get(activations.size() - 1);
  }

  /** What layer {@code i} gave: its output, activation {@code i + 1}. */
  public float[] output(int i) {
    return activations.get(i + 1);
  }

  /** What layer {@code i} received (its first input, for an addition). */
  public float[] input(int i) {
    return activations.get(reads.get(i)[0]);
  }

  /**
   * Whether the layers of {@code model} can be walked: {@link #kinds} is not empty.
   */
  public static boolean walkable(ModelPackage model) {
    return !kinds(model).isEmpty();
  }

  /**
   * The kinds of layer a walk of {@code model} has, known without loading it; empty when its
   * layers cannot be walked. The built-in architectures (the default model's {@code
   * fashion-cnn-v1}, ResNet-18) and TorchScript models whose {@code model.json} declares their
   * {@code layers}; other TorchScript models are one function to Salient.
   */
  public static Set<Kind> kinds(ModelPackage model) {
    Set<Kind> kinds = EnumSet.noneOf(Kind.class);
    switch (model.format()) {
      case BUILTIN -> kinds.addAll(BuiltinArchitectures.walkKinds(model.architecture()));
      case TORCHSCRIPT -> {
        if (model.layers() != null) {
          model.layers().forEach(l -> kinds.add(Kind.valueOf(l.kind().toUpperCase(Locale.ROOT))));
        }
      }
      default -> { }
    }
    return kinds;
  }

  /** The kinds of layer a walk has. */
  public enum Kind {
    /** 2-D convolution. */
    CONV,
    /** Rectified linear unit. */
    RELU,
    /** Max pooling: square windows with a stride and padding, possibly overlapping. */
    MAX_POOL,
    /** (C, H, W) to a vector of C*H*W, row-major. */
    FLATTEN,
    /** Fully connected. */
    LINEAR,
    /** Batch normalisation in eval mode: {@code y = scale * x + shift} per channel. */
    BATCH_NORM,
    /** The sum of two activations of one shape: a residual addition. */
    ADD,
    /** Global average pooling: (C, H, W) to the C channel means. */
    AVG_POOL
  }

  /** A layer of a walk. */
  public sealed interface Layer {
    /** Its kind. */
    Kind kind();

    /** Values it takes per image. */
    int inputSize();

    /** Values it gives per image. */
    int outputSize();
  }

  /**
   * A 2-D convolution, square stride and padding, no dilation or groups.
   *
   * @param weight {@code [out, in, kernelHeight, kernelWidth]} row-major
   * @param bias {@code [out]}
   * @param in the input's {@code [channels, height, width]}
   * @param out the output's {@code [channels, height, width]}
   */
  public record Conv(float[] weight, float[] bias, int kernelHeight, int kernelWidth, int stride,
      int padding, int[] in, int[] out) implements Layer {
    /** Checks the shapes. */
    public Conv {
      if (weight.length != out[0] * in[0] * kernelHeight * kernelWidth || bias.length != out[0]
          || (in[1] + 2 * padding - kernelHeight) / stride + 1 != out[1]
          || (in[2] + 2 * padding - kernelWidth) / stride + 1 != out[2]) {
        throw new IllegalArgumentException("inconsistent convolution shapes");
      }
    }

    @Override
    public Kind kind() {
      return Kind.CONV;
    }

    @Override
    public int inputSize() {
      return in[0] * in[1] * in[2];
    }

    @Override
    public int outputSize() {
      return out[0] * out[1] * out[2];
    }
  }

  /**
   * A fully connected layer {@code y = W x + b}.
   *
   * @param weight {@code [outputs, inputs]} row-major
   * @param bias {@code [outputs]}
   */
  public record Linear(float[] weight, float[] bias, int inputs, int outputs) implements Layer {
    /** Checks the shapes. */
    public Linear {
      if (weight.length != inputs * outputs || bias.length != outputs) {
        throw new IllegalArgumentException("inconsistent linear shapes");
      }
    }

    @Override
    public Kind kind() {
      return Kind.LINEAR;
    }

    @Override
    public int inputSize() {
      return inputs;
    }

    @Override
    public int outputSize() {
      return outputs;
    }
  }

  /**
   * A ReLU over {@code shape} (one entry for a vector, three for feature maps).
   *
   * @param shape its input's shape, which is its output's
   */
  public record Relu(int[] shape) implements Layer {
    @Override
    public Kind kind() {
      return Kind.RELU;
    }

    @Override
    public int inputSize() {
      int n = 1;
      for (int d : shape) {
        n *= d;
      }
      return n;
    }

    @Override
    public int outputSize() {
      return inputSize();
    }

    /** Whether it acts on spatial feature maps {@code [C, H, W]}. */
    public boolean spatial() {
      return shape.length == 3;
    }
  }

  /**
   * Max pooling with a {@code kernel x kernel} window moved by {@code stride}, over the input
   * padded by {@code padding} on each side (padding never wins), rounding the output size down.
   *
   * @param in the input's {@code [channels, height, width]}
   */
  public record MaxPool(int kernel, int stride, int padding, int[] in) implements Layer {
    /** Checks that every window holds at least one input value. */
    public MaxPool {
      if (kernel < 1 || stride < 1 || padding < 0 || 2 * padding > kernel
          || in[1] + 2 * padding < kernel || in[2] + 2 * padding < kernel) {
        throw new IllegalArgumentException("inconsistent max-pooling window " + kernel
            + " stride " + stride + " padding " + padding + " over " + in[1] + "x" + in[2]);
      }
    }

    /** Non-overlapping {@code size x size} windows, stride {@code size}, no padding. */
    public MaxPool(int size, int[] in) {
      this(size, size, 0, in);
    }

    @Override
    public Kind kind() {
      return Kind.MAX_POOL;
    }

    /** The output's {@code [channels, height, width]}. */
    public int[] out() {
      return new int[] {in[0], (in[1] + 2 * padding - kernel) / stride + 1,
          (in[2] + 2 * padding - kernel) / stride + 1};
    }

    @Override
    public int inputSize() {
      return in[0] * in[1] * in[2];
    }

    @Override
    public int outputSize() {
      int[] out = out();
      return out[0] * out[1] * out[2];
    }
  }

  /**
   * Batch normalisation with its running statistics (eval mode), per channel {@code y = scale * x
   * + shift} with {@code scale = gamma / sqrt(var + eps)}, {@code shift = beta - mean * scale}.
   *
   * @param shape the input's {@code [channels, height, width]}, which is the output's
   */
  public record BatchNorm(float[] scale, float[] shift, int[] shape) implements Layer {
    /** Checks one scale and shift per channel. */
    public BatchNorm {
      if (scale.length != shape[0] || shift.length != shape[0]) {
        throw new IllegalArgumentException("batch normalisation of " + shape[0] + " channels "
            + "needs as many scales and shifts, got " + scale.length + " and " + shift.length);
      }
    }

    @Override
    public Kind kind() {
      return Kind.BATCH_NORM;
    }

    @Override
    public int inputSize() {
      return shape[0] * shape[1] * shape[2];
    }

    @Override
    public int outputSize() {
      return inputSize();
    }
  }

  /**
   * The sum of two activations of {@code shape}: a residual block's main branch (read first)
   * and its shortcut.
   */
  public record Add(int[] shape) implements Layer {
    @Override
    public Kind kind() {
      return Kind.ADD;
    }

    @Override
    public int inputSize() {
      int n = 1;
      for (int d : shape) {
        n *= d;
      }
      return n;
    }

    @Override
    public int outputSize() {
      return inputSize();
    }
  }

  /**
   * Global average pooling: each channel's mean.
   *
   * @param in the input's {@code [channels, height, width]}
   */
  public record AvgPool(int[] in) implements Layer {
    @Override
    public Kind kind() {
      return Kind.AVG_POOL;
    }

    @Override
    public int inputSize() {
      return in[0] * in[1] * in[2];
    }

    @Override
    public int outputSize() {
      return in[0];
    }
  }

  /**
   * Feature maps to a vector.
   *
   * @param in the input's {@code [channels, height, width]}
   */
  public record Flatten(int[] in) implements Layer {
    @Override
    public Kind kind() {
      return Kind.FLATTEN;
    }

    @Override
    public int inputSize() {
      return in[0] * in[1] * in[2];
    }

    @Override
    public int outputSize() {
      return inputSize();
    }
  }
}
