package dev.salient.server.engine;

import java.util.List;

/**
 * One image's forward pass, layer by layer, as plain arrays: the model's layers with their
 * weights, and the input each layer received. White-box methods (Rectified Gradient, Deep
 * Taylor, VisualBackProp) walk it backwards with their own rules. No native memory: the weights
 * are copies made once when the model loads, the activations copies made by the pass.
 *
 * <p>Activations are in the model's normalised input space ({@code (x - mean) / std} at the
 * input), each row-major in its layer's shape.
 *
 * @param layers the layers, input first
 * @param inputs {@code inputs.get(i)} is what layer {@code i} received; one more entry at the end
 *     holds the last layer's output (the logits)
 */
public record LayerWalk(List<Layer> layers, List<float[]> inputs) {

  /** Checks that there is one input per layer and the output. */
  public LayerWalk {
    layers = List.copyOf(layers);
    inputs = List.copyOf(inputs);
    if (inputs.size() != layers.size() + 1) {
      throw new IllegalArgumentException("a walk of " + layers.size() + " layers needs "
          + (layers.size() + 1) + " activations, got " + inputs.size());
    }
    for (int i = 0; i < layers.size(); i++) {
      Layer layer = layers.get(i);
      if (inputs.get(i).length != layer.inputSize()
          || inputs.get(i + 1).length != layer.outputSize()) {
        throw new IllegalArgumentException("layer " + i + " (" + layer.kind() + ") takes "
            + layer.inputSize() + " values and gives " + layer.outputSize() + "; its activations "
            + "have " + inputs.get(i).length + " and " + inputs.get(i + 1).length);
      }
    }
  }

  /** The logits: the last layer's output. */
  public float[] logits() {
    return inputs.get(inputs.size() - 1);
  }

  /** What layer {@code i} gave: its output. */
  public float[] output(int i) {
    return inputs.get(i + 1);
  }

  /**
   * Whether the layers of {@code model} can be walked: a built-in architecture whose layers are
   * all of the kinds of {@link Kind} in one sequence (the default model's {@code fashion-cnn-v1};
   * not ResNet-18, whose residual additions and batch normalisation the rules do not cover), or a
   * TorchScript model whose {@code model.json} declares its {@code layers}.
   */
  public static boolean walkable(ModelPackage model) {
    return switch (model.format()) {
      case BUILTIN -> BuiltinArchitectures.walkable(model.architecture());
      case TORCHSCRIPT -> model.layers() != null;
    };
  }

  /** The kinds of layer a walk has. */
  public enum Kind {
    /** 2-D convolution. */
    CONV,
    /** Rectified linear unit. */
    RELU,
    /** Max pooling over non-overlapping windows. */
    MAX_POOL,
    /** (C, H, W) to a vector of C*H*W, row-major. */
    FLATTEN,
    /** Fully connected. */
    LINEAR
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
   * Max pooling with a {@code size x size} window and stride {@code size}.
   *
   * @param in the input's {@code [channels, height, width]}
   */
  public record MaxPool(int size, int[] in) implements Layer {
    @Override
    public Kind kind() {
      return Kind.MAX_POOL;
    }

    /** The output's {@code [channels, height, width]}. */
    public int[] out() {
      return new int[] {in[0], in[1] / size, in[2] / size};
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
