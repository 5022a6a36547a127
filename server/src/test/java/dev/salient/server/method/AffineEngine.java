package dev.salient.server.method;

import dev.salient.server.engine.InputSpec;
import dev.salient.server.engine.ModelPackage;
import dev.salient.server.engine.Pass;
import dev.salient.server.engine.PassEngine;
import dev.salient.server.engine.PassResult;
import dev.salient.server.engine.Softmax;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A single linear layer as a model, {@code logits = W x + b}, with exact input gradients of every
 * output kind: the case where the closest adversarial example is known in closed form.
 */
final class AffineEngine implements PassEngine {
  final double[][] weights;
  final double[] bias;
  final ModelPackage model;

  /** {@code weights[k]} is class k's row; inputs are 1 x h x w in [pixelMin, pixelMax]. */
  AffineEngine(double[][] weights, double[] bias, int h, int w, float pixelMin, float pixelMax) {
    this.weights = weights;
    this.bias = bias;
    List<String> labels = new ArrayList<>();
    for (int k = 0; k < bias.length; k++) {
      labels.add("class" + k);
    }
    InputSpec spec = new InputSpec(1, h, w, pixelMin, pixelMax, new float[] {0f},
        new float[] {1f});
    this.model = new ModelPackage("affine", "W x + b", ModelPackage.Format.BUILTIN, "affine",
        "none", labels, spec, null, Map.of(), new ModelPackage.DirectoryLocation(Path.of(".")));
  }

  /** The logits of {@code x}, in double precision. */
  double[] logits(float[] x) {
    double[] y = bias.clone();
    for (int k = 0; k < y.length; k++) {
      for (int i = 0; i < x.length; i++) {
        y[k] += weights[k][i] * x[i];
      }
    }
    return y;
  }

  @Override
  public PassResult run(String modelName, Pass pass) {
    List<float[]> logits = new ArrayList<>();
    List<float[]> gradients = new ArrayList<>();
    for (int row = 0; row < pass.size(); row++) {
      float[] x = pass.images().get(row);
      double[] y = logits(x);
      float[] yf = new float[y.length];
      for (int k = 0; k < y.length; k++) {
        yf[k] = (float) y[k];
      }
      logits.add(yf);
      if (pass.objective() != null) {
        gradients.add(gradient(pass.objective().outputOf(row), pass.objective().weightsFor(row, yf),
            yf, x.length));
      }
    }
    return new PassResult(logits, pass.objective() == null ? null : gradients);
  }

  private float[] gradient(Pass.Output output, float[] classWeights, float[] logits, int n) {
    double[] p = new double[logits.length];
    float[] pf = Softmax.of(logits);
    for (int k = 0; k < p.length; k++) {
      p[k] = pf[k];
    }
    double[] g = new double[n];
    for (int k = 0; k < classWeights.length; k++) {
      if (classWeights[k] == 0) {
        continue;
      }
      for (int i = 0; i < n; i++) {
        // d log p_k = W_k - sum_j p_j W_j; d p_k = p_k * d log p_k.
        double mean = 0;
        for (int j = 0; j < p.length; j++) {
          mean += p[j] * weights[j][i];
        }
        double d = switch (output) {
          case LOGIT -> weights[k][i];
          case LOG_PROBABILITY -> weights[k][i] - mean;
          case PROBABILITY -> p[k] * (weights[k][i] - mean);
        };
        g[i] += classWeights[k] * d;
      }
    }
    float[] out = new float[n];
    for (int i = 0; i < n; i++) {
      out[i] = (float) g[i];
    }
    return out;
  }

  @Override
  public void close() {}
}
